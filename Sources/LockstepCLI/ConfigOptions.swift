import ArgumentParser
import Foundation
import LockstepCore
import LockstepServices

/// `--config` and `--dags`, shared by every command that reads the deployment's configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "The deployment config file (pools, variables, connections, alerts). Env: LOCKSTEP_CONFIG.")
    var config: String = ProcessInfo.processInfo.environment["LOCKSTEP_CONFIG"] ?? "config/lockstep.yaml"

    @Option(name: .long, help: "The directory of DAG files. Env: LOCKSTEP_DAGS.")
    var dags: String = ProcessInfo.processInfo.environment["LOCKSTEP_DAGS"] ?? "config/dags"

    /// The config with environment overrides applied, its operator packs, and every DAG validated against them.
    func load(dagsDirectory: String? = nil) throws(ConfigError) -> Deployment {
        try DeploymentFiles.load(
            config: URL(fileURLWithPath: config), dags: URL(fileURLWithPath: dagsDirectory ?? dags),
            environment: ProcessInfo.processInfo.environment)
    }
}

/// Prints to standard error and exits non-zero: how every command reports a problem a user can fix.
struct UserFacingError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A request a user can correct (a bad flag value, a refused trigger): printed as one `error:` line
/// with the fix, exit status 2, and without the root command's usage text, which says nothing about
/// what was wrong.
struct UsageError: Error, CustomStringConvertible {
    var message: String
    var fix: String?
    init(_ message: String, fix: String? = nil) {
        self.message = message
        self.fix = fix
    }
    var description: String { message + (fix.map { ". Fix: \($0)" } ?? "") }
}

extension ConfigError {
    var asExit: ExitCode {
        FileHandle.standardError.write(Data("error: \(self)\n".utf8))
        return ExitCode(2)
    }
}
