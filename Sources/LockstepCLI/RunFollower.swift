import Foundation
import LockstepBus
import LockstepCore
import LockstepServices
import LockstepWire

/// Prints a run's lifecycle events as they arrive on the run-events topic, the way any downstream
/// subscriber sees them, until the run ends.
struct RunFollower {
    let runtime: Runtime
    let consumer: any GroupConsumer

    /// Joins a throwaway group on the run-events topic, reading from `since`.
    static func start(runtime: Runtime, since: Date) async throws -> RunFollower {
        try await runtime.createTopics()
        let consumer = try await runtime.bus.subscribe(group: "lockstep-cli-\(UUID().uuidString.prefix(8))", topics: [runtime.topics.runEvents])
        try await consumer.seek(.timestamp(since))
        return RunFollower(runtime: runtime, consumer: consumer)
    }

    /// The run's final state, or nil if it did not end within `timeout` seconds.
    func follow(_ runID: RunID, timeout: Double) async throws -> RunState? {
        let consumer = self.consumer
        let outcome = try await withThrowingTaskGroup(of: RunState?.self) { group in
            group.addTask {
                while let record = try await consumer.next() {
                    guard record.key == runID, let event = try? CloudEvent(record), let data = event.data else { continue }
                    print(Self.line(event.type, data))
                    switch event.type {
                    case EventType.lifecycle(.runSucceeded): return .succeeded
                    case EventType.lifecycle(.runFailed): return .failed
                    case EventType.lifecycle(.runCancelled): return .cancelled
                    default: continue
                    }
                }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int64(timeout * 1000)))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        await consumer.close()
        if outcome == nil { print("  gave up waiting for \(runID) after \(Int(timeout)) s") }
        return outcome
    }

    /// `  02:00:00.123  task.succeeded      extract_data  try 1  19 ms`
    static func line(_ type: String, _ data: JSONValue) -> String {
        let kind = type.hasPrefix("lockstep.") ? String(type.dropFirst("lockstep.".count)) : type
        let time = data["at"]?.stringValue.flatMap(ISO8601.parse).map {
            $0.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true).time(includingFractionalSeconds: true))
        } ?? ""
        var parts = ["  \(time)", kind.padding(toLength: 18, withPad: " ", startingAt: 0)]
        if let task = data["task_id"]?.stringValue { parts.append(task) }
        if let tryNumber = data["try_number"]?.intValue, tryNumber > 0 { parts.append("try \(tryNumber)") }
        let finished = ["succeeded", "failed", "up_for_retry", "cancelled"].contains { kind.hasSuffix($0) }
        if finished, let ms = data["duration_ms"]?.intValue { parts.append("\(ms) ms") }
        if let error = data["error"]?["message"]?.stringValue { parts.append("— \(error)") }
        if let retryAt = data["retry_at"]?.stringValue { parts.append("(retry at \(retryAt))") }
        if let reason = data["reason"]?.stringValue, kind.hasPrefix("run.") { parts.append("— \(reason)") }
        if let warnings = data["warnings"]?.arrayValue, !warnings.isEmpty {
            parts.append("(warnings: \(warnings.compactMap(\.stringValue).joined(separator: "; ")))")
        }
        if let status = data["status"]?.stringValue, status != "succeeded" { parts.append("[\(status)]") }
        return parts.joined(separator: "  ")
    }
}
