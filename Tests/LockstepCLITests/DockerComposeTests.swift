import Foundation
import LockstepTestSupport
import Testing

/// docker/ cannot be run here (no Docker engine), so it is checked statically: scripts/check-docker.py
/// validates compose.yaml's structure and holds every `lockstep` command, flag and LOCKSTEP_* variable
/// in docker/ against the built binary's `--help` and the names the code reads.
@Suite("docker/ stays honest")
struct DockerComposeTests {
    @Test("compose.yaml, the Dockerfile and docker/README.md use only commands, flags and variables that exist")
    func dockerFolderPassesTheCheck() throws {
        let result = try runCheck(root: TestPaths.packageRoot)
        #expect(result.status == 0, "scripts/check-docker.py found problems:\n\(result.output)")
        #expect(result.output.contains("check-docker: ok"), "\(result.output)")
    }

    @Test("the check is not vacuous: a misspelt flag and an unknown LOCKSTEP_ variable are reported")
    func checkReportsMistakes() throws {
        let root = try TestPaths.temporaryDirectory("check-docker")
        defer { try? FileManager.default.removeItem(at: root) }
        let files = FileManager.default
        for item in ["Sources", "config", "examples", "Package.swift"] {
            try files.createSymbolicLink(at: root.appendingPathComponent(item), withDestinationURL: TestPaths.packageRoot.appendingPathComponent(item))
        }
        let docker = root.appendingPathComponent("docker")
        try files.copyItem(at: TestPaths.packageRoot.appendingPathComponent("docker"), to: docker)
        let composeURL = docker.appendingPathComponent("compose.yaml")
        var compose = try String(contentsOf: composeURL, encoding: .utf8)
        #expect(compose.contains("\"--concurrency\""))
        compose = compose.replacingOccurrences(of: "\"--concurrency\"", with: "\"--concurency\"")
            .replacingOccurrences(of: "LOCKSTEP_LOG_LEVEL:", with: "LOCKSTEP_LOGLEVEL:")
        try compose.write(to: composeURL, atomically: true, encoding: .utf8)

        let result = try runCheck(root: root)
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains("has no option `--concurency`"), "\(result.output)")
        #expect(result.output.contains("LOCKSTEP_LOGLEVEL: no code reads it"), "\(result.output)")
    }

    private func runCheck(root: URL) throws -> (status: Int32, output: String) {
        let binary = TestPaths.lockstepExecutable
        #expect(FileManager.default.isExecutableFile(atPath: binary.path), "no lockstep binary at \(binary.path)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", TestPaths.packageRoot.appendingPathComponent("scripts/check-docker.py").path,
            binary.path, "--root", root.path,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
