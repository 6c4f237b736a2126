import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import LockstepCore

/// The reference FastAPI recommendation service (`examples/fastapi-service`) on a free port.
public final class FastAPIService: @unchecked Sendable {
    public let port: Int
    public let process: ManagedProcess
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, process: ManagedProcess) {
        self.port = port
        self.process = process
    }

    /// One service with default knobs shared by the tests that never change them, stopped at exit.
    /// Tests sharing it tell their requests apart by idempotency key, never by counts.
    public static func shared() async throws -> FastAPIService {
        try await SharedFastAPI.instance.get()
    }

    /// What the service accepted under `idempotencyKey`.
    public func received(idempotencyKey: String) async throws -> [JSONValue] {
        (try await received()["items"]?.arrayValue ?? []).filter { $0["idempotency_key"]?.stringValue == idempotencyKey }
    }

    /// Starts uvicorn; `environment` sets the app's knobs (`FASTAPI_FAIL_STATUS`, `FASTAPI_DELAY_SECONDS`, …).
    /// `arguments` go to uvicorn, e.g. `--ssl-keyfile`/`--ssl-certfile` to serve HTTPS.
    public static func start(environment: [String: String] = [:], arguments: [String] = []) async throws -> FastAPIService {
        let port = try FreePort.next()
        let process = try ManagedProcess(
            name: "fastapi", executable: "/usr/bin/env",
            arguments: ["python3", "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", String(port), "--log-level", "warning"]
                + arguments,
            environment: environment,
            workingDirectory: TestPaths.packageRoot.appendingPathComponent("examples/fastapi-service"))
        let service = FastAPIService(port: port, process: process)
        try await process.waitUntilAccepting(port: port, timeout: .seconds(60))
        return service
    }

    /// Changes the test knobs: `fail_status`, `fail_count`, `delay_seconds`, `healthy`, `reset`.
    @discardableResult
    public func control(_ change: JSONValue) async throws -> JSONValue {
        try await ReferenceHTTP.request("POST", "\(baseURL)/_control", body: change)
    }

    /// What the service accepted: `{"count": n, "items": [{kind, idempotency_key, payload, received_at}], "requests": n}`.
    public func received() async throws -> JSONValue {
        try await ReferenceHTTP.request("GET", "\(baseURL)/api/received")
    }

    public func stop() { process.stop() }
}

private actor SharedFastAPI {
    static let instance = SharedFastAPI()
    private var starting: Task<FastAPIService, any Error>?

    func get() async throws -> FastAPIService {
        if let starting { return try await starting.value }
        let task = Task { () throws -> FastAPIService in
            let service = try await FastAPIService.start()
            ExitCleanup.register("the shared FastAPI service") { service.stop() }
            return service
        }
        starting = task
        return try await task.value
    }
}

/// The reference Node.js backend (`examples/nodejs-service`) on a free port.
public final class NodeService: @unchecked Sendable {
    public let port: Int
    public let process: ManagedProcess
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, process: ManagedProcess) {
        self.port = port
        self.process = process
    }

    public static func start() async throws -> NodeService {
        let port = try FreePort.next()
        let script = TestPaths.packageRoot.appendingPathComponent("examples/nodejs-service/server.js")
        let process = try ManagedProcess(name: "nodejs", executable: "/usr/bin/env", arguments: ["node", script.path],
                                         environment: ["PORT": String(port), "HOST": "127.0.0.1"])
        let service = NodeService(port: port, process: process)
        try await process.waitUntilAccepting(port: port)
        return service
    }

    public func setHealthy(_ healthy: Bool) async throws {
        try await ReferenceHTTP.request("POST", "\(baseURL)/_control", body: ["healthy": .bool(healthy)])
    }

    public func stop() { process.stop() }
}

/// A TCP server that accepts connections (the kernel completes the handshake into the backlog) and
/// never answers: the case where clients without a hard deadline wait forever.
public final class SilentServer: @unchecked Sendable {
    public let port: Int
    private let fd: Int32

    public init() throws {
        (fd, port) = try FreePort.listen()
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    deinit { close(fd) }
}

/// A port nothing listens on (connection refused): a service or database that is down.
public enum ClosedPort {
    public static func next() throws -> Int { try FreePort.next() }
}

enum ReferenceHTTP {
    @discardableResult
    static func request(_ method: String, _ url: String, body: JSONValue? = nil) async throws -> JSONValue {
        var request = URLRequest(url: URL(string: url)!, timeoutInterval: 30)
        request.httpMethod = method
        if let body {
            request.httpBody = Data(body.canonicalJSON().utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 30
        configuration.timeoutIntervalForResource = 30
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let (data, response) = try await session.data(for: request)
        guard let http = response as? HTTPURLResponse, (200..<300).contains(http.statusCode) else {
            throw TestSupportError("\(method) \(url) failed: \(String(decoding: data, as: UTF8.self))")
        }
        return try JSONDecoder().decode(JSONValue.self, from: data)
    }
}
