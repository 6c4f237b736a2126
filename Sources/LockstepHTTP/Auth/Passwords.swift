import Foundation
import HummingbirdBcrypt
import LockstepDrivers

/// bcrypt, off the cooperative pool: one hash costs tens of milliseconds of CPU, and two cores serve
/// every request.
enum Passwords {
    /// Cost 10 (2^10 rounds): OWASP's minimum for bcrypt, about 60 ms here.
    static let cost: UInt8 = 10

    static func hash(_ password: String) async throws -> String {
        try await BlockingThread.run(name: "lockstep-bcrypt") { Bcrypt.hash(password, cost: cost) }
    }

    /// Verifies against `hash`; with no hash (an unknown user) verifies against a fixed one, so the
    /// answer takes as long and does not tell which user names exist.
    static func verify(_ password: String, hash: String?) async throws -> Bool {
        let target = hash ?? decoy
        let ok = try await BlockingThread.run(name: "lockstep-bcrypt") { Bcrypt.verify(password, hash: target) }
        return ok && hash != nil
    }

    private static let decoy = Bcrypt.hash(UUID().uuidString, cost: cost)

    /// A generated password: 24 characters from a 57-symbol alphabet without look-alikes (~140 bits).
    static func generate() -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var rng = SystemRandomNumberGenerator()
        return String((0..<24).map { _ in alphabet[Int(rng.next(upperBound: UInt(alphabet.count)))] })
    }
}
