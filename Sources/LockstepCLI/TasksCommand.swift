import ArgumentParser
import Foundation
import LockstepCore
import LockstepOperators
import LockstepServices
import Logging

/// `lockstep tasks test`: runs one task's operator now, outside any run and without a bus.
struct TasksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tasks", abstract: "Run a task's operator on its own.", subcommands: [Test.self])

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run one task's operator now and print its output JSON, warnings and events, or its error and retry hint.",
            discussion: """
                Nothing is published and no run is recorded. Upstream outputs come from --input; the operator sees
                the same params, variables and connections (with LOCKSTEP_VAR_*/LOCKSTEP_CONN_* overrides) as in a run.
                Example: lockstep tasks test recommender_training_pipeline preprocess_data \\
                           --input 'extract_data={"investors_count":75,"businesses_count":150}'
                """)

        @OptionGroup var options: ConfigOptions
        @Argument(help: "The DAG id.") var dag: String
        @Argument(help: "The task id.") var task: String
        @Option(help: "Run configuration, a JSON object merged over the DAG's param defaults.") var conf: String?
        @Option(name: .customLong("input"), help: ArgumentHelp("An upstream task's output: TASK=JSON. Repeatable.", valueName: "TASK=JSON"))
        var inputs: [String] = []
        @Option(help: "Logical date (ISO 8601; default now).") var logicalDate: String?
        @Option(help: "Try number the operator sees.") var tryNumber: Int = 1
        @Option(help: "Seconds before the attempt's deadline (default: the task's timeout, else 3600).") var timeout: Double?
        @Option(help: "Data directory for artifacts. Env: LOCKSTEP_DATA_DIR.")
        var dataDir: String = ProcessInfo.processInfo.environment["LOCKSTEP_DATA_DIR"] ?? "data"
        @Option(help: "Reports directory (default: the REPORTS_DIR variable, else DATA_DIR/reports). Env: LOCKSTEP_REPORTS_DIR.")
        var reportsDir: String?
        @Option(help: "Log level for the operator's log lines on standard error.") var logLevel: String = "info"

        func run() async throws {
            let deployment: Deployment
            do { deployment = try options.load() } catch { throw error.asExit }
            let (config, dags) = (deployment.config, deployment.dags)
            guard let dagSpec = dags.first(where: { $0.id == dag }) else {
                throw fail("no DAG `\(dag)` in \(options.dags) (have: \(dags.map(\.id).joined(separator: ", ")))")
            }
            guard let taskSpec = dagSpec.task(task) else {
                throw fail("DAG `\(dag)` has no task `\(task)` (have: \(dagSpec.tasks.map(\.id).joined(separator: ", ")))")
            }
            let upstream = try parseInputs()
            for missing in dagSpec.ancestors(of: task) where upstream[missing] == nil {
                FileHandle.standardError.write(Data("note: no --input for upstream task `\(missing)`\n".utf8))
            }
            let now = Date()
            let logical = try logicalDate.map { text in
                guard let date = ISO8601.parse(text) else { throw fail("--logical-date must be an ISO 8601 instant") }
                return date
            } ?? now
            let budget: Duration = timeout.map { .milliseconds(Int64($0 * 1000)) } ?? taskSpec.timeout ?? .seconds(3600)
            var logger = Logger(label: "lockstep.tasks.test", factory: { label in StreamLogHandler.standardError(label: label) })
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            let data = URL(fileURLWithPath: dataDir)
            let context = OperatorContext(
                dagID: dag, runID: "test__\(ISO8601.format(now))", taskID: task, tryNumber: tryNumber, logicalDate: logical,
                params: taskSpec.params, conf: try runConf(dagSpec), upstream: upstream,
                variables: config.variables, connections: config.connections, deadline: .now + budget,
                dataDirectory: data,
                reportsDirectory: URL(fileURLWithPath: reportsDir ?? environment("LOCKSTEP_REPORTS_DIR") ?? config.variables["REPORTS_DIR"] ?? data.appendingPathComponent("reports").path),
                now: now, logger: logger)

            switch await deployment.registry.run(taskSpec.operator, context) {
            case .success(let result):
                let events: [JSONValue] = result.events.map { event in
                    let subject: JSONValue = event.subject.map { JSONValue.string($0) } ?? .null
                    return .object(["type": .string(event.kind.eventType), "subject": subject, "data": event.data])
                }
                print(Self.pretty([
                    "task": .string("\(dag).\(task)"), "operator": .string(taskSpec.operator), "status": "success",
                    "output": result.output,
                    "warnings": .array(result.warnings.map { JSONValue.string($0) }),
                    "events": .array(events),
                ]))
                if !result.warnings.isEmpty {
                    FileHandle.standardError.write(Data("succeeded with \(result.warnings.count) warning(s)\n".utf8))
                }
            case .failure(let error):
                print(Self.pretty([
                    "task": .string("\(dag).\(task)"), "operator": .string(taskSpec.operator), "status": "failed", "error": error.json,
                ]))
                let hint = error.retryable ? "a retry may succeed" : "a retry will not help: fix the cause first"
                FileHandle.standardError.write(Data("error: \(error.message) [\(error.code)] — \(hint)\n".utf8))
                throw ExitCode(1)
            }
        }

        private func parseInputs() throws -> [String: JSONValue] {
            var upstream: [String: JSONValue] = [:]
            for input in inputs {
                guard let eq = input.firstIndex(of: "="), eq != input.startIndex else {
                    throw fail("--input must be TASK=JSON, not `\(input)`")
                }
                let name = String(input[..<eq])
                guard let value = try? JSONValue.parse(String(input[input.index(after: eq)...])) else {
                    throw fail("--input \(name)=… is not valid JSON")
                }
                upstream[name] = value
            }
            return upstream
        }

        private func runConf(_ dag: DagSpec) throws -> JSONValue {
            var merged: [String: JSONValue] = [:]
            for (name, spec) in dag.params { if let value = spec.default { merged[name] = value } }
            if let conf {
                guard let object = (try? JSONValue.parse(conf))?.objectValue else { throw fail("--conf must be a JSON object") }
                merged.merge(object) { _, new in new }
            }
            return .object(merged)
        }

        private func fail(_ message: String) -> ExitCode {
            FileHandle.standardError.write(Data("error: \(message)\n".utf8))
            return ExitCode(2)
        }

        private static func pretty(_ value: JSONValue) -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
        }
    }
}
