import ArgumentParser
import Foundation
import LockstepCore
import LockstepServices
import LockstepWire

/// `lockstep dags list|validate`.
struct DagsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dags", abstract: "List and validate pipeline definitions.",
        subcommands: [List.self, Validate.self, Pause.self, Unpause.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show each DAG with its schedule and next fire time (UTC).")
        @OptionGroup var options: ConfigOptions
        @Option(help: ArgumentHelp("Compute next fire times from this instant instead of now (ISO 8601).", visibility: .hidden))
        var now: String?

        func run() async throws {
            let dags: [DagSpec]
            do { dags = try options.load().dags } catch { throw error.asExit }
            let reference = try now.map { text in
                guard let date = ISO8601.parse(text) else { throw ValidationError("--now must be an ISO 8601 instant") }
                return date
            } ?? Date()
            var rows = [["DAG", "SCHEDULE", "TIMEZONE", "NEXT RUN (UTC)", "TASKS", "MAX ACTIVE", "PAUSED"]]
            for dag in dags {
                var next = "-"
                if let text = dag.schedule, let zone = TimeZone(identifier: dag.timezone),
                    let schedule = try? CronSchedule(text, timeZone: zone), let fire = schedule.next(after: reference)
                {
                    next = ISO8601.format(fire)
                }
                rows.append([
                    dag.id, dag.schedule ?? "(triggered)", dag.timezone, next, "\(dag.tasks.count)", "\(dag.maxActiveRuns)",
                    dag.paused ? "yes" : "no",
                ])
            }
            print(TextTable.render(rows))
        }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check lockstep.yaml and every DAG file; exit non-zero on the first problem, naming file and key.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The DAG directory (default: --dags).") var directory: String?

        func run() async throws {
            do {
                let deployment = try options.load(dagsDirectory: directory)
                let (config, dags) = (deployment.config, deployment.dags)
                print("ok: \(dags.count) DAG\(dags.count == 1 ? "" : "s") valid (\(dags.map(\.id).joined(separator: ", "))); \(config.pools.count) pool\(config.pools.count == 1 ? "" : "s")")
            } catch {
                throw error.asExit
            }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pause a DAG: no new ticks or run requests; running runs finish.")
        @OptionGroup var options: RuntimeOptions
        @Argument var dag: String
        func run() async throws {
            try await publishOps(options, "pause requested for \(dag)") { try await $0.pause(dag) }
        }
    }

    struct Unpause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unpause a DAG: queued runs start, ticks resume.")
        @OptionGroup var options: RuntimeOptions
        @Argument var dag: String
        func run() async throws {
            try await publishOps(options, "unpause requested for \(dag)") { try await $0.unpause(dag) }
        }
    }
}

/// Publishes one ops action (an event on the ops topic, the audit trail) and says what was asked.
func publishOps(_ options: RuntimeOptions, _ done: String, _ action: (OpsActions) async throws -> Void) async throws {
    try await options.withRuntime(component: "cli") { runtime in
        try await runtime.createTopics()
        try await action(OpsActions(runtime: runtime))
        print(done)
    }
}
