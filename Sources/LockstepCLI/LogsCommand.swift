import ArgumentParser
import Foundation
import LockstepCore
import LockstepServices

/// `lockstep logs RUN TASK [--try N] [--follow] [--grep TEXT] [--tail N]` and
/// `lockstep logs prune --older-than 30d`: task attempts' logs, from the state store.
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Show a task attempt's log (default) or prune old logs.",
        subcommands: [LogsShowCommand.self, LogsPruneCommand.self], defaultSubcommand: LogsShowCommand.self)
}

/// Prints an attempt's lines; with `--follow`, goes on printing new ones until the attempt ends.
struct LogsShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Print a task attempt's log lines: time, stream (stdout, stderr, operator), text.")
    @OptionGroup var store: StoreOptions
    @Argument(help: "The run id (see `lockstep runs`).") var run: String
    @Argument(help: "The task id.") var task: String
    @Option(name: .customLong("try"), help: "Which try (default: the task's latest).") var tryNumber: Int?
    @Flag(help: "Keep printing new lines until the attempt has finished.") var follow = false
    @Option(help: "Only lines containing this text (case-sensitive, no wildcards).") var grep: String?
    @Option(help: "Only the last N lines (with --follow, then the new ones).") var tail: Int?

    /// How often `--follow` asks for new lines when there were none. Each ask is one index range scan.
    static let pollInterval = Duration.milliseconds(200)
    static let pageSize = 1000

    func run() async throws {
        if let tryNumber, tryNumber < 1 { throw UsageError("--try must be 1 or more, not \(tryNumber)", fix: "tries count from 1; see `lockstep runs`") }
        if let tail, tail < 1 { throw UsageError("--tail must be 1 or more, not \(tail)") }
        let state = try await StateStore(store.storeLocation)
        do {
            try await show(state)
            await state.close()
        } catch {
            await state.close()
            throw error
        }
    }

    private func show(_ state: StateStore) async throws {
        guard let attempt = try await attempt(in: state) else { return }
        var page: LogPage
        if let tail {
            page = try await state.tail(attempt, limit: tail, grep: grep)
        } else {
            page = try await state.logLines(attempt, limit: Self.pageSize, grep: grep)
        }
        var printed = 0
        while true {
            printed += page.lines.count
            write(page.lines)
            // `attemptEnded` was read before the page's lines: once it is set and nothing more is
            // waiting, every line the attempt wrote has been printed.
            guard page.hasMore || (follow && !page.attemptEnded) else { break }
            if !page.hasMore { try await Task.sleep(for: Self.pollInterval) }
            page = try await state.logLines(attempt, after: page.nextCursor, limit: Self.pageSize, grep: grep)
        }
        if printed == 0 && !follow { note("no log lines for \(attempt)\(grep.map { " containing `\($0)`" } ?? "")") }
        if follow { note("\(attempt) has finished") }
    }

    /// The attempt asked for: `--try`, else the task's current try, else its newest try with logs.
    /// nil (after saying why) when there is nothing to show.
    private func attempt(in state: StateStore) async throws -> AttemptID? {
        let knownRun = try await state.run(run)
        if let knownRun, knownRun.tasks[task] == nil {
            throw UsageError("run `\(run)` has no task `\(task)`", fix: "its tasks are \(knownRun.tasks.keys.sorted().joined(separator: ", "))")
        }
        if let tryNumber { return AttemptID(runID: run, taskID: task, tryNumber: tryNumber) }
        if let current = knownRun?.tasks[task]?.tryNumber, current >= 1 { return AttemptID(runID: run, taskID: task, tryNumber: current) }
        if let newest = try await state.logTries(runID: run, taskID: task).last?.tryNumber {
            return AttemptID(runID: run, taskID: task, tryNumber: newest)
        }
        // Not dispatched yet (or not committed yet): following waits for its first try.
        if follow { return AttemptID(runID: run, taskID: task, tryNumber: 1) }
        if knownRun == nil {
            throw UsageError("no run `\(run)` and no logs for it in the state store \(state.location)",
                             fix: "check the run id with `lockstep runs`, and --state/--data-dir")
        }
        note("task `\(task)` of run `\(run)` has not run yet: no logs")
        return nil
    }

    private func write(_ lines: [StoredLogLine]) {
        guard !lines.isEmpty else { return }
        var out = ""
        for line in lines {
            out += line.time.formatted(Self.timeStyle) + " " + line.stream.padding(toLength: 8, withPad: " ", startingAt: 0) + " " + line.text + "\n"
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }

    private static let timeStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    private func note(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }
}

/// Deletes old logs: every attempt whose newest line is older than `--older-than`.
struct LogsPruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune", abstract: "Delete the logs of attempts whose newest line is older than --older-than (whole attempts only).")
    @OptionGroup var store: StoreOptions
    @Option(help: "How old, e.g. 30d, 12h, 90m.") var olderThan: String

    func run() async throws {
        guard let age = DurationText.parse(olderThan), age > .zero else {
            throw UsageError("--older-than `\(olderThan)` is not a duration", fix: "write it like 30d, 12h or 90m")
        }
        let cutoff = Date().addingTimeInterval(-age.timeInterval)
        let state = try await StateStore(store.storeLocation)
        let pruned: PrunedLogs
        do {
            pruned = try await state.pruneLogs(olderThan: cutoff)
            await state.close()
        } catch {
            await state.close()
            throw error
        }
        print("pruned \(pruned.lines) log lines of \(pruned.attempts) attempts with no line since \(ISO8601.format(cutoff)) (older than \(DurationText.format(age)))")
    }
}
