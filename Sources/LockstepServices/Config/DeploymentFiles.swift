import Foundation
import LockstepCore
import LockstepNoblestride
import LockstepOperators

/// What a deployment runs: its config (environment applied), its validated DAGs and the operators of
/// the packs it loads.
public struct Deployment: Sendable {
    public var config: LockstepConfig
    public var dags: [DagSpec]
    public var registry: OperatorRegistry
}

/// The operator packs this build of Lockstep carries, and which a deployment loads.
public enum OperatorPacks {
    /// Every pack beyond the generic one, by name.
    public static let available: [OperatorPack] = [.noblestride, .testing]
    /// Loaded when `lockstep.yaml` has no `packs:` and LOCKSTEP_PACKS is unset (a config written
    /// before packs existed keeps running the seed's pipelines).
    public static let defaults = ["noblestride"]

    /// The packs named by LOCKSTEP_PACKS (comma-separated) or the config, or a config error naming the
    /// unknown one.
    public static func selected(_ config: LockstepConfig, environment: [String: String], file: String) throws(ConfigError) -> [OperatorPack] {
        let names: [String]
        let key: String
        if let env = environment["LOCKSTEP_PACKS"] {
            names = env.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            key = "LOCKSTEP_PACKS"
        } else {
            names = config.packs ?? defaults
            key = "packs"
        }
        return try names.map { (name: String) throws(ConfigError) -> OperatorPack in
            guard let pack = available.first(where: { $0.name == name }) else {
                throw ConfigError(file: file, keyPath: key, message: "unknown operator pack `\(name)`",
                                  fix: "use some of \(available.map(\.name).joined(separator: ", ")) (the generic operators always load)")
            }
            return pack
        }
    }

    /// Operator → pack, for the operators of packs not loaded: what a DAG that uses one must add.
    public static func unloaded(by registry: OperatorRegistry) -> [String: String] {
        var map: [String: String] = [:]
        for pack in available where !registry.packs.contains(pack.name) {
            for name in pack.operators.keys where !registry.names.contains(name) { map[name] = pack.name }
        }
        return map
    }
}

extension OperatorRegistry {
    /// Every operator this build carries: the generic ones and every pack (tests, benchmarks).
    public static let allPacks = OperatorRegistry(packs: OperatorPacks.available)
}

/// Reads `lockstep.yaml` and a directory of DAG files: the file I/O that LockstepCore leaves to the shell.
public enum DeploymentFiles {
    /// The config file, the environment's overrides and the DAGs, each validated; the first mistake
    /// throws, naming the file, the key and the fix.
    public static func load(config configFile: URL, dags directory: URL, environment: [String: String]) throws(ConfigError) -> Deployment {
        let fileConfig = try readConfig(configFile)
        let packs = try OperatorPacks.selected(fileConfig, environment: environment, file: configFile.path)
        let registry = OperatorRegistry(packs: packs)
        var defaults: [String: String] = [:]
        for pack in packs { defaults.merge(pack.variableDefaults) { first, _ in first } }
        let config = try fileConfig.applyingEnvironment(environment, defaults: defaults)
            .applyingTraceEnvironment(environment)
        let dags = try readDags(directory, config: config, registry: registry)
        try ConfigLoader.validateAlerts(config, dags: dags, file: configFile.path)
        return Deployment(config: config, dags: dags, registry: registry)
    }

    public static func readConfig(_ file: URL) throws(ConfigError) -> LockstepConfig {
        try ConfigLoader.parseConfig(try read(file), file: file.path)
    }

    /// Every `*.yaml`/`*.yml` in `directory`, in file-name order.
    public static func readDags(_ directory: URL, config: LockstepConfig, registry: OperatorRegistry) throws(ConfigError) -> [DagSpec] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        } catch {
            throw ConfigError(file: directory.path, keyPath: "", message: "cannot list the DAG directory", fix: "point --dags at a directory of DAG YAML files")
        }
        var files: [(path: String, text: String)] = []
        for name in names {
            let url = directory.appendingPathComponent(name)
            files.append((url.path, try read(url)))
        }
        return try ConfigLoader.parseDags(files, config: config, operators: registry.names,
                                          unloadedPacks: OperatorPacks.unloaded(by: registry))
    }

    static func read(_ url: URL) throws(ConfigError) -> String {
        do { return try String(contentsOf: url, encoding: .utf8) } catch {
            throw ConfigError(file: url.path, keyPath: "", message: "cannot read the file", fix: "check that it exists and is readable UTF-8 text")
        }
    }
}
