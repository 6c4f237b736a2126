import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LockstepTestSupport

/// An HTTP/1.1 server on a free loopback port that answers each request with what `respond` returns
/// and keeps every request it received (method, path, headers, body).
final class ScriptedHTTPServer: @unchecked Sendable {
    // @unchecked: `requests` and `stopped` are only touched with `lock` held; the rest is immutable.
    struct Request: Sendable {
        var method: String
        var path: String
        /// Header names lower-cased.
        var headers: [String: String]
        var body: Data
    }

    let port: Int
    private let fd: Int32
    private let lock = NSLock()
    private var requests: [Request] = []
    private var stopped = false
    private let respond: @Sendable (Request) -> (status: Int, body: String)

    init(_ respond: @escaping @Sendable (Request) -> (status: Int, body: String)) throws {
        self.respond = respond
        (fd, port) = try FreePort.listen()
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var received: [Request] { lock.withLock { requests } }

    func stop() {
        lock.withLock { stopped = true }
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    deinit { stop() }

    private func serve() {
        while !lock.withLock({ stopped }) {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { if errno == EINTR { continue } else { return } }
            if let request = read(client) {
                lock.withLock { requests.append(request) }
                let (status, body) = respond(request)
                let bytes = Array(body.utf8)
                let head = "HTTP/1.1 \(status) Scripted\r\nContent-Type: application/json\r\nContent-Length: \(bytes.count)\r\n"
                    + "Connection: close\r\n\r\n"
                let reply = Array(head.utf8) + bytes
                var sent = 0
                while sent < reply.count {
                    let n = reply.withUnsafeBytes { Glibc.send(client, $0.baseAddress! + sent, reply.count - sent, Int32(MSG_NOSIGNAL)) }
                    if n <= 0 { break }
                    sent += n
                }
            }
            close(client)
        }
    }

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
        return Request(method: requestLine.first.map(String.init) ?? "", path: requestLine.dropFirst().first.map(String.init) ?? "",
                       headers: headers, body: Data(body))
    }
}
