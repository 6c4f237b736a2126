import CLibPQ
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LockstepCore

/// One blocking libpq connection. Not thread-safe: create, use and close it on one thread
/// (`PostgresSession.run` does), never from the cooperative pool.
public final class PostgresConnection {
    private var conn: OpaquePointer?
    /// `postgresql://user@host:port/db`: what messages show instead of the URI.
    public let display: String

    /// Connects, giving up at `deadline`. Polls libpq's non-blocking connect itself: `connect_timeout`
    /// counts whole seconds (at least 2), too coarse for a deadline that is a second away.
    public init(uri: String, name: String, deadline: ContinuousClock.Instant) throws(DriverError) {
        let parsed = try Self.parse(uri, name: name)
        display = parsed.display
        // Keywords are applied in order and a repeated keyword keeps its last value: the URI (expanded
        // from `dbname`) may name the application; anything else it sets is kept as written.
        let pairs: [(String, String)] = [("application_name", "lockstep"), ("dbname", uri)]
        let keywords = pairs.map { strdup($0.0) }
        let values = pairs.map { strdup($0.1) }
        defer { (keywords + values).forEach { free($0) } }
        let kw = keywords.map { UnsafePointer($0) } + [nil]
        let vs = values.map { UnsafePointer($0) } + [nil]
        conn = PQconnectStartParams(kw, vs, 1)
        guard let conn, PQstatus(conn) != CONNECTION_BAD else { throw failure(name) }
        var state = PGRES_POLLING_WRITING
        while state != PGRES_POLLING_OK {
            guard state != PGRES_POLLING_FAILED else { throw failure(name) }
            let left = deadline - ContinuousClock.now
            guard left > .zero else {
                close()
                throw DriverError(.timeout, "cannot connect to `\(name)` (\(display)) before the deadline", retryable: true)
            }
            var pfd = pollfd(fd: PQsocket(conn), events: Int16(state == PGRES_POLLING_READING ? POLLIN : POLLOUT), revents: 0)
            let ready = poll(&pfd, 1, Int32(min(max(left.seconds * 1000, 1), 60_000)))
            if ready < 0 && errno != EINTR { throw failure(name) }
            if ready > 0 { state = PQconnectPoll(conn) }
        }
    }

    /// Connects, waiting at most `connectTimeout`.
    public convenience init(uri: String, name: String, connectTimeout: Duration) throws(DriverError) {
        try self.init(uri: uri, name: name, deadline: .now + connectTimeout)
    }

    private func failure(_ name: String) -> DriverError {
        let text = conn.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
        close()
        return PostgresErrors.connectionFailure(text, display: display, name: name)
    }

    deinit { close() }

    public func close() {
        if let conn { PQfinish(conn) }
        conn = nil
    }

    /// True once libpq has seen the connection fail (the server closed it, restarted or became
    /// unreachable) or after `close`: every later statement on it fails, so its owner must reconnect.
    public var isBroken: Bool { conn.map { PQstatus($0) == CONNECTION_BAD } ?? true }

    /// The socket, for the watchdog that unblocks a read past the deadline.
    public var socket: Int32 { conn.map { PQsocket($0) } ?? -1 }

    /// Runs `sql` with `$1…` parameters sent separately from the text (never spliced in), returning rows as text.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String] = []) throws(DriverError) -> [[String?]] {
        guard let conn else { throw DriverError(.unavailable, "connection \(display) is closed", retryable: true) }
        let copies = parameters.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        let pointers = copies.map { UnsafePointer($0) }
        let result = PQexecParams(conn, sql, Int32(pointers.count), nil, pointers, nil, nil, 0)
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            let sqlstate = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let primary = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
                ?? String(cString: PQerrorMessage(conn))
            throw PostgresErrors.statementFailure(primary, sqlstate: sqlstate, display: display)
        }
        let rows = Int(PQntuples(result))
        let columns = Int(PQnfields(result))
        var out: [[String?]] = []
        out.reserveCapacity(rows)
        for r in 0..<rows {
            var row: [String?] = []
            for c in 0..<columns {
                row.append(PQgetisnull(result, Int32(r), Int32(c)) == 1 ? nil : String(cString: PQgetvalue(result, Int32(r), Int32(c))))
            }
            out.append(row)
        }
        return out
    }

    /// Rows in `quotedTable`, which must come from `quoteIdentifier`.
    public func count(_ quotedTable: String) throws(DriverError) -> Int64 {
        let rows = try query("SELECT count(*) FROM \(quotedTable)")
        guard let text = rows.first?.first ?? nil, let value = Int64(text) else {
            throw DriverError(.badResponse, "\(display): count(*) returned no number", retryable: false)
        }
        return value
    }

    /// `name` quoted as an SQL identifier by libpq, so `user`, `Mixed Case` or `x; DROP TABLE y` stay names.
    public func quoteIdentifier(_ name: String) throws(DriverError) -> String {
        guard let conn else { throw DriverError(.unavailable, "connection \(display) is closed", retryable: true) }
        guard let quoted = PQescapeIdentifier(conn, name, strlen(name)) else {
            throw DriverError(.config, "cannot quote identifier: \(String(cString: PQerrorMessage(conn)))", retryable: false)
        }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    private struct ParsedURI {
        var display: String
    }

    /// Checks the URI with libpq's own parser and keeps only what may be shown. On failure libpq's
    /// message is dropped: it can quote the malformed part, which may be the password.
    private static func parse(_ uri: String, name: String) throws(DriverError) -> ParsedURI {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(uri, &errorMessage) else {
            if let errorMessage { PQfreemem(errorMessage) }
            throw .config("connection `\(name)` (\(Redacted.uri(uri))) is not a valid PostgreSQL URI; "
                + "check its percent-encoding and parameters")
        }
        defer { PQconninfoFree(options) }
        var values: [String: String] = [:]
        var cursor = options
        while let keyword = cursor.pointee.keyword {
            if let value = cursor.pointee.val { values[String(cString: keyword)] = String(cString: value) }
            cursor += 1
        }
        let user = values["user"].map { "\($0)@" } ?? ""
        let host = values["host"] ?? values["hostaddr"] ?? "localhost"
        let port = values["port"].map { ":\($0)" } ?? ""
        let db = values["dbname"] ?? values["user"] ?? ""
        return ParsedURI(display: "postgresql://\(user)\(host)\(port)/\(db)")
    }
}
