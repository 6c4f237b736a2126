import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LockstepTestSupport

/// A TCP proxy on loopback in front of a real server that can break one connection at a chosen
/// moment: the network faults a restart cannot produce on cue, such as a COMMIT that reached the
/// server whose acknowledgement never came back.
final class FaultyTCPProxy: @unchecked Sendable {
    // @unchecked: `fault` and `faultsHit` are only touched with `lock` held; sockets belong to the
    // threads that own each connection.

    /// What to do to the next client message that contains `marker` (e.g. `COMMIT`).
    enum Fault: Sendable {
        /// Never forward it; cut the connection (the server sees the client vanish before it).
        case dropRequest(marker: String)
        /// Forward it, wait for the server's answer, drop the answer and cut the connection.
        case dropResponse(marker: String)
    }

    let port: Int
    private let upstreamPort: Int
    private let listener: Int32
    private let lock = NSLock()
    private var fault: Fault?
    private var faultsHit = 0

    init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        (listener, port) = try FreePort.listen()
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Arms a fault for the next matching message; it fires once.
    func arm(_ fault: Fault) { lock.withLock { self.fault = fault } }

    /// How many armed faults have fired.
    var hits: Int { lock.withLock { faultsHit } }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(upstreamPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                close(client)
                close(server)
                continue
            }
            let pair = Pair(client: client, server: server)
            Thread { [self] in pumpRequests(pair) }.start()
            Thread { [self] in pumpResponses(pair) }.start()
        }
    }

    /// One proxied connection. @unchecked: its flag is guarded by its lock; closing is idempotent.
    private final class Pair: @unchecked Sendable {
        let client: Int32
        let server: Int32
        private let lock = NSLock()
        private var swallowNext = false
        private var cut = false

        init(client: Int32, server: Int32) {
            self.client = client
            self.server = server
        }

        func swallowNextResponse() { lock.withLock { swallowNext = true } }
        func takeSwallow() -> Bool { lock.withLock { defer { swallowNext = false }; return swallowNext } }

        func cutBoth() {
            lock.withLock {
                guard !cut else { return }
                cut = true
                shutdown(client, Int32(SHUT_RDWR))
                shutdown(server, Int32(SHUT_RDWR))
            }
        }

        /// Each pump calls this once when it ends; the second closes the sockets.
        func pumpEnded() {
            cutBoth()
            lock.withLock {
                pumpsEnded += 1
                if pumpsEnded == 2 {
                    close(client)
                    close(server)
                }
            }
        }
        private var pumpsEnded = 0
    }

    private func pumpRequests(_ pair: Pair) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(pair.client, &buffer, buffer.count)
            guard n > 0 else { break }
            let chunk = Array(buffer[0..<n])
            switch takeFault(matching: chunk) {
            case .dropRequest?:
                return pair.pumpEnded()
            case .dropResponse?:
                pair.swallowNextResponse()
                guard writeAll(pair.server, chunk) else { return pair.pumpEnded() }
            case nil:
                guard writeAll(pair.server, chunk) else { return pair.pumpEnded() }
            }
        }
        pair.pumpEnded()
    }

    private func pumpResponses(_ pair: Pair) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(pair.server, &buffer, buffer.count)
            guard n > 0 else { break }
            if pair.takeSwallow() {
                // The server answered (so it ran the request); the client never hears it.
                pair.cutBoth()
                break
            }
            guard writeAll(pair.client, Array(buffer[0..<n])) else { break }
        }
        pair.pumpEnded()
    }

    private func takeFault(matching chunk: [UInt8]) -> Fault? {
        lock.withLock {
            guard let fault else { return nil }
            let marker: String
            switch fault {
            case .dropRequest(let m), .dropResponse(let m): marker = m
            }
            guard contains(chunk, Array(marker.utf8)) else { return nil }
            self.fault = nil
            faultsHit += 1
            return fault
        }
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<start + needle.count]) == needle { return true }
        }
        return false
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a peer that went away must not raise SIGPIPE in the test process.
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    private static func loopback(_ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
