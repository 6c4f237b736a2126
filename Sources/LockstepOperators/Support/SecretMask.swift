import Foundation
import LockstepCore

/// Replaces secrets in text an operator reports (log lines, error messages, outputs): every connection
/// URI by its redacted form, every connection password, and the values of variables whose names say
/// they are secret.
///
/// Masking is by value, not by place: a program that prints `$DATABASE_URL` or echoes a password it was
/// handed shows `postgresql://user@host/db` or `***` instead, wherever the value appears in a line.
public struct SecretMask: Sendable, Hashable {
    /// Secret → what to show instead, longest secret first so a URI is replaced before its password.
    private var replacements: [Replacement] = []

    private struct Replacement: Sendable, Hashable {
        var secret: String
        var shown: String
    }

    public static let hidden = "***"
    /// Values of secret-named variables shorter than this are not masked: `1` or `on` would garble every
    /// line and protect nothing. Connection passwords are masked whatever their length.
    public static let minimumVariableSecretLength = 4

    public init() {}

    /// Everything secret in a deployment's connections and variables.
    public init(connections: [String: String], variables: [String: String] = [:]) {
        for uri in connections.values { addURI(uri) }
        for (name, value) in variables {
            if Self.looksSecret(name), value.count >= Self.minimumVariableSecretLength { add(value) }
            // A variable may hold a URI with credentials (a webhook with a token in its userinfo).
            if value.contains("://") { addURIPasswords(value) }
        }
    }

    public var isEmpty: Bool { replacements.isEmpty }

    /// Masks `secret` (shown as `***` unless told otherwise) from now on.
    public mutating func add(_ secret: String, shownAs shown: String = SecretMask.hidden) {
        guard !secret.isEmpty, secret != shown, !replacements.contains(where: { $0.secret == secret }) else { return }
        replacements.append(Replacement(secret: secret, shown: shown))
        replacements.sort { $0.secret.utf8.count > $1.secret.utf8.count }
    }

    /// Masks a connection URI as a whole (shown redacted) and its password and secret query values alone.
    public mutating func addURI(_ uri: String) {
        let redacted = Redacted.uri(uri)
        if redacted != uri { add(uri, shownAs: redacted) }
        addURIPasswords(uri)
    }

    public mutating func formUnion(_ other: SecretMask) {
        for r in other.replacements { add(r.secret, shownAs: r.shown) }
    }

    public func apply(_ text: String) -> String {
        guard !replacements.isEmpty else { return text }
        var out = text
        for r in replacements where out.contains(r.secret) {
            out = out.replacingOccurrences(of: r.secret, with: r.shown)
        }
        return out
    }

    /// The same JSON with every string (keys included) masked.
    public func apply(_ json: JSONValue) -> JSONValue {
        guard !replacements.isEmpty else { return json }
        switch json {
        case .string(let s): return .string(apply(s))
        case .array(let a): return .array(a.map { apply($0) })
        case .object(let o):
            var masked: [String: JSONValue] = [:]
            for (key, value) in o { masked[apply(key)] = apply(value) }
            return .object(masked)
        default: return json
        }
    }

    public func apply(_ error: OperatorError) -> OperatorError {
        guard !replacements.isEmpty else { return error }
        var copy = error
        copy.message = apply(error.message)
        return copy
    }

    /// Whether a variable's name says its value is a credential.
    public static func looksSecret(_ name: String) -> Bool {
        let upper = name.uppercased()
        return ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY", "CREDENTIAL", "AUTH"]
            .contains { upper.contains($0) }
    }

    private mutating func addURIPasswords(_ uri: String) {
        guard let schemeEnd = uri.range(of: "://") else {
            // libpq's keyword form: `host=db user=app password=secret`.
            for pair in uri.split(whereSeparator: \.isWhitespace) where pair.lowercased().hasPrefix("password=") {
                let value = pair.dropFirst("password=".count).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
                add(value)
            }
            return
        }
        var rest = uri[schemeEnd.upperBound...]
        var query: Substring = ""
        if let cut = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            query = rest[rest.index(after: cut)...]
            rest = rest[..<cut]
        }
        // As in `Redacted.uri`: the last `@` ends the userinfo, so a password holding `@` or `/` is whole.
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            if let colon = userinfo.firstIndex(of: ":") {
                let password = String(userinfo[userinfo.index(after: colon)...])
                add(password)
                if let decoded = password.removingPercentEncoding { add(decoded) }
            }
        }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let name = String(parts[0])
            guard Self.looksSecret(name) || name.lowercased() == "pass" || name.lowercased() == "key" else { continue }
            let value = String(parts[1])
            add(value)
            if let decoded = value.removingPercentEncoding { add(decoded) }
        }
    }
}
