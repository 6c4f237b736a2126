import Foundation

/// Loads `lockstep.yaml` and the DAG files of a directory: the only place that reads config files.
public enum ConfigLoader {
    public static func loadConfig(file: URL) throws(ConfigError) -> LockstepConfig {
        try ConfigFile.parse(try read(file), file: file.path)
    }

    /// Every `*.yaml`/`*.yml` in `directory`, in file-name order, each validated; the first bad file
    /// throws. DAG ids must be unique across files.
    public static func loadDags(directory: URL, config: LockstepConfig, operators: Set<String>) throws(ConfigError) -> [DagSpec] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        } catch {
            throw ConfigError(file: directory.path, keyPath: "", message: "cannot list the DAG directory", fix: "point --dags at a directory of DAG YAML files")
        }
        var parsed: [(file: String, dag: DagSpec)] = []
        for name in names {
            let url = directory.appendingPathComponent(name)
            parsed.append((url.path, try DagFile.parse(try read(url), file: url.path)))
        }
        let ids = Set(parsed.map(\.dag.id))
        var seen: [String: String] = [:]
        for (file, dag) in parsed {
            if let other = seen[dag.id] {
                throw ConfigError(file: file, keyPath: "id", message: "DAG id `\(dag.id)` is also declared in \(other)", fix: "give each DAG its own id")
            }
            seen[dag.id] = file
            try DagValidator.validate(dag, file: file, config: config, operators: operators, knownDags: ids)
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

    private static func read(_ url: URL) throws(ConfigError) -> String {
        do { return try String(contentsOf: url, encoding: .utf8) } catch {
            throw ConfigError(file: url.path, keyPath: "", message: "cannot read the file", fix: "check that it exists and is readable UTF-8 text")
        }
    }
}
