import Foundation
import LockstepTestSupport
import Testing

/// The `lockstep` binary as a user runs it.
enum CLI {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], in directory: URL = TestPaths.packageRoot, environment: [String: String] = [:]) throws -> Output {
        let process = Process()
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
        process.executableURL = TestPaths.lockstepExecutable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }
}

@Suite struct DagsCommandTests {
    @Test func listShowsBothSeedPipelinesWithTheirNextFireTimes() throws {
        let result = try CLI.run(["dags", "list", "--now", "2025-09-18T14:30:00Z"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let training = try #require(lines.first { $0.hasPrefix("recommender_training_pipeline") })
        #expect(training.contains("0 2 * * *") && training.contains("2025-09-19T02:00:00Z") && training.contains("UTC"))
        let integration = try #require(lines.first { $0.hasPrefix("noblestride_integration_pipeline") })
        #expect(integration.contains("0 */6 * * *") && integration.contains("2025-09-18T18:00:00Z"))
    }

    @Test func validateAcceptsTheRepositorysDags() throws {
        let result = try CLI.run(["dags", "validate"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("ok: 2 DAGs valid"))
    }

    /// A copy of the seed DAGs with one mistake, and what `dags validate` must say about it.
    @Test(arguments: [
        ("upstream: [check_fastapi_health]", "upstream: [notify_training_complete]", "tasks[1].upstream", "cycle"),
        ("pool: ml_training_pool\n    params:\n      connection: noblestride_postgres\n      tables",
         "pool: gpu_pool\n    params:\n      connection: noblestride_postgres\n      tables", "tasks[1].pool", "unknown pool `gpu_pool`"),
        ("schedule: \"0 2 * * *\"", "schedule: \"0 2 * * MOONDAY\"", "schedule", "not a valid schedule"),
    ])
    func validateRejectsABadFileNamingFileAndKey(_ original: String, _ broken: String, _ key: String, _ message: String) throws {
        let dir = try TestPaths.temporaryDirectory("lockstep-bad-dags")
        defer { try? FileManager.default.removeItem(at: dir) }
        let dags = TestPaths.packageRoot.appendingPathComponent("config/dags")
        for name in try FileManager.default.contentsOfDirectory(atPath: dags.path) {
            try FileManager.default.copyItem(at: dags.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        let file = dir.appendingPathComponent("recommender_training_pipeline.yaml")
        let text = try String(contentsOf: file, encoding: .utf8)
        #expect(text.contains(original))
        try text.replacingOccurrences(of: original, with: broken).write(to: file, atomically: true, encoding: .utf8)
        let result = try CLI.run(["dags", "validate", dir.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains(file.path), "\(result.stderr)")
        #expect(result.stderr.contains("`\(key)`"), "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.contains("Fix:"))
    }

    /// The Noblestride operators are a pack: a deployment that leaves it out cannot run the seed's
    /// DAGs, and validation says which pack to add rather than "unknown operator".
    @Test func aDagUsingAPackThatIsNotLoadedNamesTheOperatorAndThePack() throws {
        let dir = try TestPaths.temporaryDirectory("lockstep-no-pack")
        defer { try? FileManager.default.removeItem(at: dir) }
        let repoConfig = try String(contentsOf: TestPaths.packageRoot.appendingPathComponent("config/lockstep.yaml"), encoding: .utf8)
        let config = dir.appendingPathComponent("lockstep.yaml")
        try ("packs: []\n" + repoConfig.replacingOccurrences(of: "\npacks:", with: "\n# packs:"))
            .write(to: config, atomically: true, encoding: .utf8)
        let result = try CLI.run(["dags", "validate", "--config", config.path])
        #expect(result.status == 2, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stderr.contains("`tasks[1].operator`") || result.stderr.contains("`tasks[2].operator`"), "\(result.stderr)")
        #expect(result.stderr.contains("lives in the `noblestride` pack"), "\(result.stderr)")
        #expect(result.stderr.contains("add `noblestride` to `packs:`"), "\(result.stderr)")

        let loaded = try CLI.run(["dags", "validate", "--config", config.path], environment: ["LOCKSTEP_PACKS": "noblestride"])
        #expect(loaded.status == 0, "\(loaded.stderr)")
    }
}
