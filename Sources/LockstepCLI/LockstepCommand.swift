import ArgumentParser
import Foundation

/// `lockstep`: the root command. Each subcommand lives in its own file.
@available(macOS 10.15, macCatalyst 13, iOS 13, tvOS 13, watchOS 6, *)
public struct LockstepCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "lockstep",
        abstract: "An event-driven pipeline orchestrator.",
        subcommands: [
            StandaloneCommand.self, TriggerCommand.self, RunsCommand.self, StatsCommand.self, DagsCommand.self, TasksCommand.self,
            SchedulerCommand.self, CoordinatorCommand.self, WorkerCommand.self, NotifierCommand.self, AlerterCommand.self, ReplayCommand.self,
            BackfillCommand.self, DeadLettersCommand.self, RebuildCommand.self, EventsCommand.self,
            MigrateCommand.self, LogsCommand.self, APICommand.self, UsersCommand.self,
        ]
    )
    public init() {}
}

/// Parses the command line and runs the chosen command, async or not (what `@main` would do).
public func runLockstep(_ arguments: [String]? = nil) async {
    do {
        var command = try LockstepCommand.parseAsRoot(arguments)
        if var asyncCommand = command as? AsyncParsableCommand {
            try await asyncCommand.run()
        } else {
            try command.run()
        }
    } catch let error as UsageError {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        exit(2)
    } catch {
        LockstepCommand.exit(withError: error)
    }
}
