import ArgumentParser

/// Placeholder: `lockstep events` (bus work) replaces this file.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "Publish and read events.")
}
