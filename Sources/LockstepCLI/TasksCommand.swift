import ArgumentParser

/// Placeholder: `lockstep tasks test` (operators work) replaces this file.
struct TasksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tasks", abstract: "Run a task's operator on its own.")
}
