import ArgumentParser
import Foundation
import LockstepBus
import LockstepCore
import LockstepOperators
import LockstepServices
import LockstepWire

/// `lockstep replay`: rerun what a range of a request topic held, as new runs marked as replays.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Republish the run requests or schedule ticks in a range of a topic as new runs that name what they replay.")
    @OptionGroup var options: RuntimeOptions
    @Option(help: "lockstep.runs.requests or lockstep.schedule.ticks (others are refused).") var topic: String
    @Option(help: "Start at this time (ISO 8601).") var from: String?
    @Option(help: "Start at PARTITION:OFFSET.") var fromOffset: String?
    @Option(help: "End at this time (ISO 8601) or PARTITION:OFFSET (exclusive); default: the end of the log.") var to: String?
    @Option(help: "Only this DAG's requests.") var dag: String?
    @Flag(help: "List what would rerun; publish nothing.") var dryRun = false

    func run() async throws {
        try await options.withRuntime(component: "cli") { runtime in
            let start: Replay.Start
            switch (from, fromOffset) {
            case (let time?, nil): start = .time(try parseTime(time, "--from"))
            case (nil, let offset?): let (p, o) = try parseOffset(offset, "--from-offset"); start = .offset(partition: p, offset: o)
            default: throw ValidationError("give exactly one of --from TIME or --from-offset PARTITION:OFFSET")
            }
            var end = Replay.End.latest
            if let to {
                if to.contains(":") && !to.contains("T") && !to.contains("-") {
                    let (p, o) = try parseOffset(to, "--to")
                    end = .offset(partition: p, offset: o)
                } else {
                    end = .time(try parseTime(to, "--to"))
                }
            }
            let replay = Replay(runtime: runtime)
            try replay.checkReplayable(topic)
            let batch = String(UUID().uuidString.prefix(8)).lowercased()
            let items = try await replay.plan(topic: topic, from: start, to: end, dagID: dag, batch: batch)
            for item in items {
                print("\(dryRun ? "would rerun" : "rerun") \(item.original.id) (\(item.position), \(ISO8601.format(item.timestamp))) dag=\(item.request.dagID) as run \(item.request.runID)")
            }
            if !dryRun {
                try await replay.execute(items, topic: topic, ops: OpsActions(runtime: runtime))
            }
            print("\(items.count) run\(items.count == 1 ? "" : "s") \(dryRun ? "would be replayed" : "replayed")")
        }
    }
}

/// `lockstep backfill DAG --from --to`: one run per schedule interval in the range.
struct BackfillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill", abstract: "Request one run per schedule interval in a range (max active runs still holds).")
    @OptionGroup var options: RuntimeOptions
    @Argument var dag: String
    @Option(help: "First logical date (ISO 8601), inclusive.") var from: String
    @Option(help: "Last logical date (ISO 8601), inclusive.") var to: String
    @Flag(help: "List the runs; publish nothing.") var dryRun = false

    func run() async throws {
        try await options.withRuntime(component: "cli") { runtime in
            guard let spec = runtime.dags.first(where: { $0.id == dag }) else { throw ValidationError("unknown DAG `\(dag)`") }
            let requests: [RunRequest]
            do { requests = try Backfill.requests(spec, from: try parseTime(from, "--from"), to: try parseTime(to, "--to")) } catch let error as OpsError {
                throw ValidationError(error.description)
            }
            let ops = OpsActions(runtime: runtime)
            if !dryRun { try await runtime.createTopics() }
            for request in requests {
                print("\(dryRun ? "would request" : "requested") \(request.runID)")
                if !dryRun { try await ops.requestRun(request) }
            }
            if !dryRun {
                try await ops.audit("backfill", target: dag, details: ["from": .string(from), "to": .string(to), "runs": .int(Int64(requests.count))])
            }
            print("\(requests.count) run\(requests.count == 1 ? "" : "s")")
        }
    }
}

/// `lockstep deadletters [list] | redrive ID`.
struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deadletters", abstract: "Inspect dead letters, and resubmit one after a fix.",
        subcommands: [List.self, Redrive.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every dead letter: id, time, component, reason, original position.")
        @OptionGroup var options: RuntimeOptions
        func run() async throws {
            try await options.withRuntime(component: "cli") { runtime in
                let entries = try await DeadLetters(runtime: runtime).list()
                if entries.isEmpty { print("no dead letters"); return }
                for e in entries {
                    print("\(e.id)  \(e.time.map(ISO8601.format) ?? "-")  \(e.component)  \(e.originalTopic)\(e.originalPosition ?? "")")
                    print("    \(e.reason)")
                }
            }
        }
    }

    struct Redrive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Publish a dead letter's original record again to its topic.")
        @OptionGroup var options: RuntimeOptions
        @Argument(help: "The dead letter's id (see `lockstep deadletters list`).") var id: String
        func run() async throws {
            try await options.withRuntime(component: "cli") { runtime in
                do {
                    let entry = try await DeadLetters(runtime: runtime).redrive(id, ops: OpsActions(runtime: runtime))
                    print("redriven \(id) to \(entry.originalTopic)")
                } catch let error as OpsError {
                    throw ValidationError(error.description)
                }
            }
        }
    }
}

/// `lockstep rebuild`: recompute the run-state store from the topics.
struct RebuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild", abstract: "Recompute the run-state store from the coordinator's topics (stop the coordinator first).")
    @OptionGroup var options: RuntimeOptions
    func run() async throws {
        try await options.withRuntime(component: "cli") { runtime in
            let done = try await Rebuild(runtime: runtime).run()
            func seconds(_ duration: Duration) -> String { String(format: "%.2f s", duration.seconds) }
            print("rebuilt \(done.runs) run\(done.runs == 1 ? "" : "s") from \(done.events) events in \(seconds(done.committed))")
            if let reason = done.sortedBecause {
                print("records out of time order, so the log was read again whole and sorted before the replay: \(reason)")
            }
            print("read ended at \(seconds(done.read)), replay at \(seconds(done.replayed)), store committed at \(seconds(done.committed))"
                + (done.sortedBecause == nil ? " (all three went on together)" : " (the store writing while the replay went on)"))
        }
    }
}

func parseTime(_ text: String, _ flag: String) throws -> Date {
    guard let date = ISO8601.parse(text) else { throw ValidationError("\(flag) must be an ISO 8601 time such as 2025-09-18T00:00:00Z") }
    return date
}

func parseOffset(_ text: String, _ flag: String) throws -> (Int32, Int64) {
    let parts = text.split(separator: ":")
    guard parts.count == 2, let p = Int32(parts[0]), let o = Int64(parts[1]), p >= 0, o >= 0 else {
        throw ValidationError("\(flag) must be PARTITION:OFFSET, e.g. 0:120")
    }
    return (p, o)
}
