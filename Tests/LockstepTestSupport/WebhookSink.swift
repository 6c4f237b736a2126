import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 server on a free loopback port that answers every request with `status` and
/// keeps what it received: a webhook receiver (Slack, a pager) for tests.
public final class WebhookSink: @unchecked Sendable {
    public struct Request: Sendable {
        public var method: String
        public var path: String
        /// Header names lower-cased.
        public var headers: [String: String]
        public var body: Data
    }

    public let port: Int
    private let fd: Int32
    private let lock = NSLock()
    private var requests: [Request] = []
    private var stopped = false
    private let status: Int

    public init(status: Int = 200) throws {
        self.status = status
        (fd, port) = try FreePort.listen()
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    public var url: String { "http://127.0.0.1:\(port)/hooks/alerts" }

    /// What arrived so far, in order.
    public var received: [Request] { lock.withLock { requests } }

    public func stop() {
        lock.withLock { stopped = true }
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    private func serve() {
        while !lock.withLock({ stopped }) {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { if errno == EINTR { continue } else { return } }
            if let request = read(client) {
                lock.withLock { requests.append(request) }
                let reply = "HTTP/1.1 \(status) Status\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
                _ = reply.withCString { Glibc.send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            }
            close(client)
        }
    }

    /// Reads one request: headers up to the blank line, then `Content-Length` bytes of body.
    private func read(_ client: Int32) -> Request? {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        var headerEnd: Range<Data.Index>?
        while headerEnd == nil {
            let n = recv(client, &buffer, buffer.count, 0)
            guard n > 0 else { return nil }
            data.append(contentsOf: buffer[0..<n])
            headerEnd = data.range(of: Data("\r\n\r\n".utf8))
        }
        let head = String(decoding: data[..<headerEnd!.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = head[0].split(separator: " ")
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        var body = data[headerEnd!.upperBound...]
        while body.count < length {
            let n = recv(client, &buffer, buffer.count, 0)
            guard n > 0 else { break }
            body.append(contentsOf: buffer[0..<n])
        }
        return Request(
            method: requestLine.first.map(String.init) ?? "", path: requestLine.dropFirst().first.map(String.init) ?? "",
            headers: headers, body: Data(body))
    }
}
