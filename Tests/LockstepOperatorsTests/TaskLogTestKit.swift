import Foundation
import LockstepCore
import LockstepOperators
import LockstepTestSupport
import Logging
import Testing

/// An attempt's context whose task log goes to an in-memory sink, as the worker's goes to the store.
struct LoggedAttempt {
    let context: OperatorContext
    let sink: InMemoryTaskLogSink
    let log: TaskLog

    init(dag: String = "test_dag", task: String = "task", run: String = "run-1", tryNumber: Int = 1,
         params: [String: JSONValue] = [:], conf: JSONValue = .emptyObject, upstream: [String: JSONValue] = [:],
         variables: [String: String] = [:], connections: [String: String] = [:],
         timeout: Duration = .seconds(60), limits: TaskLog.Limits = TaskLog.Limits()) throws {
        let data = try TestPaths.temporaryDirectory("lockstep-ops-data")
        sink = InMemoryTaskLogSink()
        log = TaskLog(attempt: AttemptID(runID: run, taskID: task, tryNumber: tryNumber), sink: sink, limits: limits)
        context = OperatorContext(
            dagID: dag, runID: run, taskID: task, tryNumber: tryNumber, logicalDate: seedLogicalDate,
            params: params, conf: conf, upstream: upstream, variables: variables, connections: connections,
            deadline: .now + timeout, dataDirectory: data, reportsDirectory: data.appendingPathComponent("reports"),
            now: Date(timeIntervalSince1970: 1_758_160_805.25), logger: Logger(label: "test"), log: log)
    }

    /// Runs the operator, then flushes the log as the worker does, and returns both.
    func run(_ name: String) async -> (Result<OperatorResult, OperatorError>, [TaskLogLine]) {
        let result = await runOperator(name, context)
        await log.finish()
        return (result, await sink.lines(for: log.attempt))
    }
}

/// Whether no process with this pid exists any more (not even as a zombie).
func processIsGone(_ pid: pid_t) -> Bool {
    kill(pid, 0) == -1 && errno == ESRCH
}

/// Polls `condition` until it holds or `timeout` passes; true if it held.
func eventually(timeout: Duration = .seconds(10), _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try condition()
}
