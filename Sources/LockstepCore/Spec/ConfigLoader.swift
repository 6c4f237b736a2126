import Foundation

/// Parses `lockstep.yaml` and DAG files from their text. Reading the files is the shell's job
/// (`DeploymentFiles` in LockstepServices): Core does no I/O.
public enum ConfigLoader {
    /// Every DAG file, in the order given, each validated; the first bad file throws. DAG ids must be
    /// unique across files. `unloadedPacks` maps the operators of packs this deployment does not load
    /// to their pack, so a DAG using one is told which pack to add.
    public static func parseDags(
        _ files: [(path: String, text: String)], config: LockstepConfig, operators: Set<String>,
        unloadedPacks: [String: String] = [:]
    ) throws(ConfigError) -> [DagSpec] {
        var parsed: [(file: String, dag: DagSpec)] = []
        for file in files { parsed.append((file.path, try DagFile.parse(file.text, file: file.path))) }
        let ids = Set(parsed.map(\.dag.id))
        var seen: [String: String] = [:]
        for (file, dag) in parsed {
            if let other = seen[dag.id] {
                throw ConfigError(file: file, keyPath: "id", message: "DAG id `\(dag.id)` is also declared in \(other)", fix: "give each DAG its own id")
            }
            seen[dag.id] = file
            try DagValidator.validate(dag, file: file, config: config, operators: operators, knownDags: ids, unloadedPacks: unloadedPacks)
        }
        return parsed.map(\.dag)
    }

    /// Parses and validates one DAG file's text (for tests and `dags validate` on a single file).
    public static func parseDag(_ text: String, file: String, config: LockstepConfig, operators: Set<String>) throws(ConfigError) -> DagSpec {
        let dag = try DagFile.parse(text, file: file)
        try DagValidator.validate(dag, file: file, config: config, operators: operators)
        return dag
    }

    /// Checks what only the whole deployment can tell: that each alert's DAGs exist and its URL, a
    /// `{{ var.NAME }}` included, resolves to an http(s) URL (with LOCKSTEP_VAR_NAME applied).
    public static func validateAlerts(_ config: LockstepConfig, dags: [DagSpec], file: String) throws(ConfigError) {
        let known = Set(dags.map(\.id))
        for alert in config.alerts {
            if let unknown = alert.dags.subtracting(known).sorted().first {
                throw ConfigError(
                    file: file, keyPath: "alerts.\(alert.name).dags", message: "unknown DAG `\(unknown)`",
                    fix: "name a loaded DAG (known: \(known.sorted().joined(separator: ", "))), or leave out `dags` to cover every DAG")
            }
            do { _ = try alert.webhookURL(variables: config.variables) } catch {
                throw ConfigError(file: file, keyPath: "alerts.\(alert.name).url", message: error.message, fix: error.fix)
            }
        }
    }

    public static func parseConfig(_ text: String, file: String) throws(ConfigError) -> LockstepConfig {
        try ConfigFile.parse(text, file: file)
    }
}
