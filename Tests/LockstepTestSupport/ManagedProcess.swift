import Foundation

/// A child process a test starts (a broker, a database, a reference service) and always stops.
/// Output goes to a log file so a failing test can show why the process did not come up.
public final class ManagedProcess: @unchecked Sendable {
    public let name: String
    public let process: Process
    public let logURL: URL
    private let lock = NSLock()
    private var stopped = false

    /// Starts `executable` with `arguments`; `environment` entries are added to the current environment.
    public init(
        name: String, executable: String, arguments: [String], environment: [String: String] = [:],
        workingDirectory: URL? = nil
    ) throws {
        self.name = name
        let logDir = FileManager.default.temporaryDirectory.appendingPathComponent("lockstep-test-logs")
        try FileManager.default.createDirectory(at: logDir, withIntermediateDirectories: true)
        logURL = logDir.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    public var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Waits until the process accepts connections on `port`, or fails with its log.
    public func waitUntilAccepting(port: Int, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if FreePort.isAccepting(port) { return }
            if !process.isRunning {
                throw TestSupportError("\(name) exited with status \(process.terminationStatus) before listening on \(port):\n\(log)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSupportError("\(name) did not listen on \(port) within \(timeout):\n\(log)")
    }

    /// SIGKILL, for crash tests.
    public func kill9() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        awaitExit()
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    public func stop(grace: Duration = .seconds(5)) {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        guard process.isRunning else { return }
        process.terminate()
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        awaitExit()
    }

    /// Waits, bounded, for Foundation to see the exit of a process that was sent SIGKILL. Not
    /// `waitUntilExit()`: it has no bound, and a test stuck in it holds the whole run with no word of
    /// where (it also runs at exit, from `ExitCleanup`).
    private func awaitExit(within bound: Duration = .seconds(10)) {
        let deadline = ContinuousClock.now + bound
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning {
            FileHandle.standardError.write(Data("ManagedProcess: \(name) (pid \(pid)) still running \(bound) after SIGKILL; going on\n".utf8))
        }
    }

    deinit { stop(grace: .seconds(1)) }
}
