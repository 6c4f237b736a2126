import ArgumentParser

struct DagsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dags", abstract: "List and validate pipeline definitions.")
}
