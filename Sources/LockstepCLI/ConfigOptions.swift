import ArgumentParser
import Foundation
import LockstepCore
import LockstepOperators

/// `--config` and `--dags`, shared by every command that reads the deployment's configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "The deployment config file (pools, variables, connections, alerts). Env: LOCKSTEP_CONFIG.")
    var config: String = ProcessInfo.processInfo.environment["LOCKSTEP_CONFIG"] ?? "config/lockstep.yaml"

    @Option(name: .long, help: "The directory of DAG files. Env: LOCKSTEP_DAGS.")
    var dags: String = ProcessInfo.processInfo.environment["LOCKSTEP_DAGS"] ?? "config/dags"

    /// The config with environment overrides applied, and every DAG validated against it.
    func load(dagsDirectory: String? = nil) throws(ConfigError) -> (LockstepConfig, [DagSpec]) {
        let config = try ConfigLoader.loadConfig(file: URL(fileURLWithPath: self.config))
            .applyingEnvironment(ProcessInfo.processInfo.environment)
        let dags = try ConfigLoader.loadDags(
            directory: URL(fileURLWithPath: dagsDirectory ?? self.dags), config: config,
            operators: OperatorRegistry.builtin.names)
        try ConfigLoader.validateAlerts(config, dags: dags, file: self.config)
        return (config, dags)
    }
}

/// Prints to standard error and exits non-zero: how every command reports a problem a user can fix.
struct UserFacingError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension ConfigError {
    var asExit: ExitCode {
        FileHandle.standardError.write(Data("error: \(self)\n".utf8))
        return ExitCode(2)
    }
}
