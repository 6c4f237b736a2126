import ArgumentParser
import Foundation
import LockstepCore
import LockstepServices

/// `lockstep runs [list]` and `lockstep runs cancel RUN`.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs", abstract: "Show runs (default) or cancel one.",
        subcommands: [RunsListCommand.self, RunsCancelCommand.self], defaultSubcommand: RunsListCommand.self)
}

/// `lockstep runs cancel RUN`: an ops event the coordinator acts on.
struct RunsCancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a run: its running attempts are abandoned, the next queued run may start.")
    @OptionGroup var options: RuntimeOptions
    @Argument(help: "The run id (see `lockstep runs`).") var run: String
    @Option(help: "Why, for the audit trail.") var reason: String = "cancelled by an operator"

    func run() async throws {
        try await publishOps(options, "cancel requested for \(run)") { try await $0.cancel(run, reason: reason) }
    }
}

/// `lockstep runs list`: runs and their task attempts, from the state store.
struct RunsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Show runs and their task attempts: states, tries, durations, causes.")
    @OptionGroup var options: RuntimeOptions
    @Option(help: "Only this DAG's runs.") var dag: String?
    @Option(help: "How many runs, newest first.") var limit: Int = 10
    @Flag(help: "JSON instead of tables.") var json = false

    func run() async throws {
        let store = try await StateStore(options.storeLocation)
        let runs = try await store.runs(dagID: dag, limit: limit)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            print(String(decoding: try encoder.encode(runs), as: UTF8.self))
            return
        }
        if runs.isEmpty {
            print("no runs\(dag.map { " of \($0)" } ?? "")")
            return
        }
        // What the components last said about themselves: an unfinished run whose coordinator or
        // worker is waiting, recovering or silent says so, instead of looking merely slow.
        let heartbeats = try await store.heartbeats()
        let now = Date()
        for run in runs {
            let duration = run.startedAt.map { start in format((run.finishedAt ?? Date()).timeIntervalSince(start)) } ?? "-"
            print("\(run.id)  \(run.dagID)  \(run.statusText.uppercased())  trigger=\(run.trigger.label)  logical=\(ISO8601.format(run.logicalDate))  duration=\(duration)")
            if let failure = run.failure, run.state != .succeeded { print("  cause: \(failure)") }
            for reason in RunWaiting.reasons(for: run, heartbeats: heartbeats, now: now) { print("  \(reason)") }
            var rows = [["  TASK", "STATE", "TRIES", "DURATION", "DETAIL"]]
            let ordered = run.tasks.values.sorted { ($0.attempts.first?.scheduledAt ?? .distantFuture, $0.taskID) < ($1.attempts.first?.scheduledAt ?? .distantFuture, $1.taskID) }
            for task in ordered {
                let spent = task.attempts.compactMap(\.duration).reduce(Duration.zero, +)
                var detail = task.lastError.map { "\($0.category): \($0.message)" } ?? ""
                if task.state == .succeeded { detail = task.warnings.isEmpty ? "" : "warnings: " + task.warnings.joined(separator: "; ") }
                if let waiting = task.waitingFor, !task.state.isTerminal { detail = "waiting for \(waiting)" }
                rows.append(["  " + task.taskID, task.state.rawValue, "\(task.tryNumber)/\(task.maxTries)", task.attempts.isEmpty ? "-" : format(spent.timeInterval), detail])
            }
            print(TextTable.render(rows))
        }
    }

    private func format(_ seconds: Double) -> String {
        seconds < 10 ? String(format: "%.3fs", seconds) : DurationText.format(.milliseconds(Int64(seconds * 1000)))
    }
}
