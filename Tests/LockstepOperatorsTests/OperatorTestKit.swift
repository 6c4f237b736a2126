import Foundation
import LockstepCore
import LockstepNoblestride
import LockstepOperators
import LockstepTestSupport
import Logging
import Testing

/// The logical date of the seed's example run: 2025-09-18T02:00:00Z.
let seedLogicalDate = Date(timeIntervalSince1970: 1_758_160_800)

/// Builds an attempt's context with a temporary data dir and a deadline `timeout` from now.
func makeContext(
    dag: String = "test_dag", task: String = "task", run: String = "run-1", tryNumber: Int = 1,
    params: [String: JSONValue] = [:], upstream: [String: JSONValue] = [:],
    variables: [String: String] = [:], connections: [String: String] = [:],
    timeout: Duration = .seconds(60), dataDirectory: URL? = nil, logs: LogCapture? = nil
) throws -> OperatorContext {
    let data = try dataDirectory ?? TestPaths.temporaryDirectory("lockstep-ops-data")
    return OperatorContext(
        dagID: dag, runID: run, taskID: task, tryNumber: tryNumber, logicalDate: seedLogicalDate,
        params: params, upstream: upstream, variables: variables, connections: connections,
        deadline: .now + timeout, dataDirectory: data, reportsDirectory: data.appendingPathComponent("reports"),
        now: Date(timeIntervalSince1970: 1_758_160_805.25), logger: logs?.logger ?? Logger(label: "test"))
}

/// Every operator of every pack: the generic ones, the Noblestride pack and the testing pack.
let everyOperator = OperatorRegistry(packs: [.noblestride, .testing])

/// Runs an operator of any pack by name.
func runOperator(_ name: String, _ context: OperatorContext) async -> Result<OperatorResult, OperatorError> {
    await everyOperator.run(name, context)
}

/// The output of a run that must succeed.
func expectSuccess(_ name: String, _ context: OperatorContext, sourceLocation: SourceLocation = #_sourceLocation) async throws -> OperatorResult {
    switch await runOperator(name, context) {
    case .success(let result): return result
    case .failure(let error):
        Issue.record("\(name) failed: \(error)", sourceLocation: sourceLocation)
        throw error
    }
}

/// The error of a run that must fail.
func expectFailure(_ name: String, _ context: OperatorContext, sourceLocation: SourceLocation = #_sourceLocation) async throws -> OperatorError {
    switch await runOperator(name, context) {
    case .success(let result):
        Issue.record("\(name) succeeded unexpectedly: \(result.output.canonicalJSON())", sourceLocation: sourceLocation)
        throw TestSupportError("unexpected success")
    case .failure(let error): return error
    }
}

/// Collects every log line (message and metadata) written through its logger.
final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    var logger: Logger {
        var logger = Logger(label: "capture") { _ in CaptureHandler(sink: self) }
        logger.logLevel = .trace
        return logger
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return lines.joined(separator: "\n")
    }

    fileprivate func append(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }
}

private struct CaptureHandler: LogHandler {
    let sink: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
        sink.append("\(event.level) \(event.message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
    }
}

// Lets tests write `"\(service.baseURL)/health"` as a param value.
extension JSONValue: ExpressibleByStringInterpolation {}
