import ArgumentParser
import Foundation
import LockstepBus
import LockstepCore
import LockstepServices

/// `lockstep trigger DAG`: publish a run request, as any producer would; `--wait` follows the run.
struct TriggerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trigger", abstract: "Publish a run request for a DAG; with --wait, follow the run to its end (exit status = outcome).")
    @OptionGroup var options: RuntimeOptions
    @Argument(help: "The DAG to run.") var dag: String
    @Option(help: "Run configuration, a JSON object checked against the DAG's params.") var conf: String?
    @Option(help: "Requests with the same key start one run.") var idempotencyKey: String?
    @Option(help: "The run's logical date (ISO 8601; default now).") var logicalDate: String?
    @Flag(help: "Wait for the run to finish, printing task progress.") var wait = false
    @Option(help: "With --wait: give up after this many seconds.") var timeout: Double = 3600

    func run() async throws {
        let runtime = try await options.makeRuntime(component: "cli")
        guard runtime.dags.contains(where: { $0.id == dag }) else {
            throw ValidationError("unknown DAG `\(dag)`; known: \(runtime.dags.map(\.id).joined(separator: ", "))")
        }
        let confValue: JSONValue
        do { confValue = try conf.map(JSONValue.parse) ?? .emptyObject } catch { throw ValidationError("--conf is not valid JSON: \(error)") }
        let logical = try logicalDate.map { text in
            guard let d = ISO8601.parse(text) else { throw ValidationError("--logical-date must be ISO 8601") }
            return d
        } ?? runtime.clock()
        // Follow from before the request, so no step of the run can be missed.
        let follower = wait ? try await RunFollower.start(runtime: runtime, since: runtime.clock().addingTimeInterval(-1)) : nil
        let eventID = UUID().uuidString
        var data = WireObject()
        data["dag_id"] = .string(dag)
        data["conf"] = confValue
        data["logical_date"] = .string(ISO8601.format(logical))
        if let idempotencyKey { data["idempotency_key"] = .string(idempotencyKey) }
        data["trigger"] = ["type": "manual"]
        data["requested_by"] = .string(ProcessInfo.processInfo.environment["USER"] ?? "cli")
        let event = runtime.event(id: eventID, component: "cli", type: EventType.runRequested, subject: dag, data: data.json)
        try await runtime.createTopics()
        try await runtime.publish(event, to: runtime.topics.runRequests, key: dag)
        let runID = idempotencyKey.map { "\(dag)~\($0)" } ?? "\(dag)~\(eventID)"
        print("requested run \(runID)")
        guard wait else {
            await runtime.bus.close()
            return
        }
        let outcome = try await follower?.follow(runID, timeout: timeout)
        await runtime.bus.close()
        if outcome != .succeeded { throw ExitCode(outcome == nil ? 3 : 1) }
    }
}
