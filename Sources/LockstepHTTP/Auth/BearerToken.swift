import Crypto
import Foundation
import LockstepCore

/// A signed, expiring bearer token: `lst1.<payload>.<signature>`, both base64url; the payload is
/// `{"sub": user, "iat": s, "exp": s}` and the signature its HMAC-SHA256 under the deployment's key.
/// Any API process sharing the store verifies it: the key lives in the store (or LOCKSTEP_API_SECRET).
struct TokenSigner: Sendable {
    /// The key's bytes (`SymmetricKey` is not `Sendable` in this swift-crypto).
    private let keyBytes: Data
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    init(keyBytes: Data) { self.keyBytes = keyBytes }

    /// A key from a configured secret: its SHA-256, so any length of secret gives a 256-bit key.
    init(secret: String) { keyBytes = Data(SHA256.hash(data: Data(secret.utf8))) }

    func issue(username: String, now: Date, lifetime: TimeInterval) -> (token: String, expiresAt: Date) {
        let expires = Date(timeIntervalSince1970: (now.timeIntervalSince1970 + lifetime).rounded(.down))
        let payload = #"{"exp":\#(Int64(expires.timeIntervalSince1970)),"iat":\#(Int64(now.timeIntervalSince1970)),"sub":\#(Self.quote(username))}"#
        let body = Base64URL.encode(Data(payload.utf8))
        let signature = HMAC<SHA256>.authenticationCode(for: Data("lst1.\(body)".utf8), using: key)
        return ("lst1.\(body).\(Base64URL.encode(Data(signature)))", expires)
    }

    enum Rejection: Error, Equatable, CustomStringConvertible {
        case malformed, badSignature, expired(Date)
        var description: String {
            switch self {
            case .malformed: "the bearer token is not a Lockstep token; get one from POST /api/v1/auth/token"
            case .badSignature: "the bearer token's signature does not match; it was altered or signed with another key. Get a new one from POST /api/v1/auth/token"
            case .expired(let at): "the bearer token expired at \(ISO8601.format(at)); get a new one from POST /api/v1/auth/token"
            }
        }
    }

    /// The user the token names, if its signature holds and it has not expired.
    func verify(_ token: String, now: Date) throws(Rejection) -> String {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "lst1", let signature = Base64URL.decode(String(parts[2])),
            let payloadData = Base64URL.decode(String(parts[1]))
        else { throw .malformed }
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Data("lst1.\(parts[1])".utf8), using: key) else {
            throw .badSignature
        }
        guard let payload = try? JSONSerialization.jsonObject(with: payloadData) as? [String: Any],
            let subject = payload["sub"] as? String, let exp = (payload["exp"] as? NSNumber)?.doubleValue
        else { throw .malformed }
        let expires = Date(timeIntervalSince1970: exp)
        guard now < expires else { throw .expired(expires) }
        return subject
    }

    private static func quote(_ s: String) -> String {
        String(decoding: (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
}

enum Base64URL {
    static func encode(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> Data? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }

    /// `bytes` random bytes, base64url: session ids, CSRF tokens, generated keys.
    static func random(_ bytes: Int = 32) -> String {
        var rng = SystemRandomNumberGenerator()
        return encode(Data((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &rng) }))
    }
}
