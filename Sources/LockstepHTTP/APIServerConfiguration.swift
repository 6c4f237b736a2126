import Foundation

extension APIServer {
    /// Where the API listens and how long credentials last.
    public struct Configuration: Sendable {
        public var host: String
        /// 0 picks a free port (tests); `APIServer.boundPort` tells which.
        public var port: Int
        public var tokenLifetime: TimeInterval
        public var sessionLifetime: TimeInterval
        /// The token-signing secret (LOCKSTEP_API_SECRET); nil: a key generated once and kept in the store.
        public var secret: String?
        /// Marks the session cookie `Secure` (set it when a TLS proxy fronts the API).
        public var secureCookies: Bool
        /// Runs the run-events subscriber that feeds /metrics and component liveness.
        public var observeBus: Bool
        /// When false, an address that cannot be bound is logged and the server stays down while the
        /// process's other services go on (`standalone` on its default address); when true it fails.
        public var bindFailureIsFatal: Bool
        /// Where the DAG files are, for the web UI's Code view (nil: it shows the parsed DAG).
        public var dagsDirectory: String?

        public init(
            host: String = "127.0.0.1", port: Int = 8080, tokenLifetime: TimeInterval = 3600, sessionLifetime: TimeInterval = 8 * 3600,
            secret: String? = nil, secureCookies: Bool = false, observeBus: Bool = true, bindFailureIsFatal: Bool = true,
            dagsDirectory: String? = nil
        ) {
            self.host = host
            self.port = port
            self.tokenLifetime = tokenLifetime
            self.sessionLifetime = sessionLifetime
            self.secret = secret
            self.secureCookies = secureCookies
            self.observeBus = observeBus
            self.bindFailureIsFatal = bindFailureIsFatal
            self.dagsDirectory = dagsDirectory
        }

        /// `HOST:PORT` (`[::1]:8080` for IPv6), or why not.
        public static func parseAddress(_ text: String) throws -> (host: String, port: Int) {
            var host = Substring(text)
            guard let colon = text.lastIndex(of: ":") else { throw AddressError(text) }
            host = text[..<colon]
            if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
            guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { throw AddressError(text) }
            return (String(host), port)
        }
    }

    public struct AddressError: Error, CustomStringConvertible {
        public var text: String
        init(_ text: String) { self.text = text }
        public var description: String { "`\(text)` is not HOST:PORT; e.g. 127.0.0.1:8080 or 0.0.0.0:8080" }
    }
}
