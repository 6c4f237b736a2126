import ArgumentParser
import Foundation
import LockstepBus
import LockstepCore
import LockstepKafka
import LockstepServices
import LockstepWire
import Logging

/// Where the components find the bus, the state store and their files.
struct RuntimeOptions: ParsableArguments {
    @OptionGroup var configuration: ConfigOptions

    @Option(help: "The event bus: `embedded` (a log in the data directory) or kafka://host:port[,host:port][?property=value]. Env: LOCKSTEP_BUS.")
    var bus: String = ProcessInfo.processInfo.environment["LOCKSTEP_BUS"] ?? "embedded"

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: "Where reports are written (default: the REPORTS_DIR variable). Env: LOCKSTEP_REPORTS_DIR.")
    var reportsDir: String?

    @Option(help: "Prefix of every topic name.")
    var topicPrefix: String = ProcessInfo.processInfo.environment["LOCKSTEP_TOPIC_PREFIX"] ?? "lockstep."

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. Env: LOCKSTEP_LOG_LEVEL.")
    var logLevel: String = ProcessInfo.processInfo.environment["LOCKSTEP_LOG_LEVEL"] ?? "info"

    var dataDirectory: URL { storeOptions.dataDirectory }

    func reportsDirectory(_ config: LockstepConfig) -> URL {
        URL(fileURLWithPath: reportsDir ?? environment("LOCKSTEP_REPORTS_DIR") ?? config.variables["REPORTS_DIR"] ?? dataDirectory.appendingPathComponent("reports").path)
    }

    var storeLocation: StoreLocation { storeOptions.storeLocation }

    func makeBus(logger: Logger) throws -> any EventBus {
        if bus == "embedded" || bus.hasPrefix("embedded:") {
            let dir = bus.hasPrefix("embedded:") ? URL(fileURLWithPath: String(bus.dropFirst("embedded:".count))) : dataDirectory
            return try EmbeddedBus(directory: dir)
        }
        if bus.hasPrefix("kafka://") {
            return try KafkaBus(config: try KafkaConfig(url: bus).applying(environment: ProcessInfo.processInfo.environment), logger: logger)
        }
        throw ValidationError("--bus must be `embedded` or kafka://host:port, not `\(bus)`")
    }

    /// Loads config and DAGs, opens the bus and the store, runs `body`, and closes what it opened
    /// whether `body` returns or throws.
    func withRuntime<T>(component: String, _ body: (Runtime) async throws -> T) async throws -> T {
        let runtime = try await makeRuntime(component: component)
        do {
            let result = try await body(runtime)
            await runtime.close()
            return result
        } catch {
            await runtime.close()
            throw error
        }
    }

    private func makeRuntime(component: String) async throws -> Runtime {
        var logger = Logger(label: "lockstep.\(component)")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let deployment: Deployment
        do { deployment = try configuration.load() } catch { throw error.asExit }
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let bus = try makeBus(logger: logger)
        let store: StateStore
        do { store = try await StateStore(storeLocation, logger: logger) } catch {
            await bus.close()
            throw error
        }
        return Runtime(
            bus: bus, store: store, topics: Topics(prefix: topicPrefix), deployment: deployment, logger: logger,
            instance: "\(component)-\(Runtime.defaultInstance)")
    }
}

/// `--state` and `--data-dir`: where the state store is, for every command, and all that commands
/// working on the store alone (`migrate`, `logs`) take.
struct StoreOptions: ParsableArguments {
    @Option(help: "The state store: sqlite:PATH or postgresql://user@host:port/db (default: sqlite in the data directory). Env: LOCKSTEP_STATE.")
    var state: String?

    @Option(help: "Data directory: embedded log, SQLite state, model artifacts. Env: LOCKSTEP_DATA_DIR.")
    var dataDir: String = ProcessInfo.processInfo.environment["LOCKSTEP_DATA_DIR"] ?? "data"

    var dataDirectory: URL { URL(fileURLWithPath: dataDir) }

    var storeLocation: StoreLocation {
        StoreLocation(state ?? environment("LOCKSTEP_STATE") ?? "sqlite:" + dataDirectory.appendingPathComponent("state.sqlite").path)
    }
}

/// An environment variable standing in for an optional flag the user did not pass. (Read at use,
/// not as the flag's default: argument-parser deprecates defaults on optional options.)
func environment(_ name: String) -> String? {
    ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
}
