import ArgumentParser

/// `lockstep`: the root command. Each subcommand lives in its own file.
public struct LockstepCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "lockstep",
        abstract: "An event-driven pipeline orchestrator.",
        subcommands: [DagsCommand.self, TasksCommand.self, EventsCommand.self]
    )
    public init() {}
}
