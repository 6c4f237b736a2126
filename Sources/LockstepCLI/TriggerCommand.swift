import ArgumentParser
import Foundation
import LockstepCore
import LockstepServices

/// `lockstep trigger DAG`: request a run through the ops path (checked before anything is published,
/// as the coordinator will check it); `--wait` follows the run.
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
        let confValue: JSONValue
        do { confValue = try conf.map(JSONValue.parse) ?? .emptyObject } catch {
            throw UsageError("--conf is not valid JSON: \(error)", fix: "pass a JSON object, e.g. --conf '{\"model_type\": \"baseline\"}'")
        }
        let logical = try logicalDate.map { text in
            guard let d = ISO8601.parse(text) else { throw UsageError("--logical-date `\(text)` is not ISO 8601", fix: "e.g. 2025-09-18T02:00:00Z") }
            return d
        }
        let outcome = try await options.withRuntime(component: "cli") { runtime -> (followed: Bool, state: RunState?) in
            // Follow from before the request, so no step of the run can be missed.
            let follower = wait ? try await RunFollower.start(runtime: runtime, since: runtime.clock.now.addingTimeInterval(-1)) : nil
            let request: RunRequest
            do {
                request = try await OpsActions(runtime: runtime, actor: "cli:\(OpsActions.defaultActor)")
                    .trigger(dag, conf: confValue, idempotencyKey: idempotencyKey, logicalDate: logical)
            } catch let refusal as RunAdmission.Refusal {
                throw UsageError("cannot trigger `\(dag)`: \(refusal.reason)")
            }
            print("requested run \(request.runID)")
            guard let follower else { return (false, nil) }
            return (true, try await follower.follow(request.runID, timeout: timeout))
        }
        if outcome.followed && outcome.state != .succeeded { throw ExitCode(outcome.state == nil ? 3 : 1) }
    }
}
