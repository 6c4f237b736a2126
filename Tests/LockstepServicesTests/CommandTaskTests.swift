import Foundation
import LockstepCore
import LockstepOperators
import LockstepServices
import LockstepTestKit
import Testing

/// The generic `command` operator run by the real coordinator and workers: its output reaches the
/// downstream task, a skip exit code skips, and every attempt's lines land in the state store's task
/// log with the connection password masked.
@Suite struct CommandTaskTests {
    static let password = "S3cretPw-4711"

    static func command(_ id: String, after: [String] = [], _ script: String, env: [String: JSONValue] = [:]) -> TaskSpec {
        task(id, "command", after: after, params: ["argv": ["/bin/sh", "-c", .string(script)], "env": .object(env)])
    }

    @Test func outputsFlowDownstreamASkipCodeSkipsAndTheLogIsStoredMasked() async throws {
        let dag = DagSpec(id: "yaml_only", tasks: [
            Self.command("produce", #"echo "connecting to $DB"; echo "to stderr" >&2; printf '{"n": 7}' > "$LOCKSTEP_OUTPUT""#,
                         env: ["DB": "{{ conn.warehouse }}"]),
            Self.command("consume", after: ["produce"], #"""
                python3 -c 'import json, os; d = json.load(open(os.environ["LOCKSTEP_INPUTS"])); json.dump({"doubled": d["produce"]["n"] * 2}, open(os.environ["LOCKSTEP_OUTPUT"], "w"))'
                """#),
            Self.command("skipper", "echo nothing to do today; exit 99"),
            task("after_skip", after: ["skipper"]),
        ])
        let config = LockstepConfig(connections: ["warehouse": "postgresql://loader:\(Self.password)@127.0.0.1:1/warehouse"])
        let system = try await InProcessLockstep(dags: [dag], config: config)
        system.start()
        let runID = try await system.trigger("yaml_only")
        let run = try await system.waitForRun(runID)
        await system.close()

        #expect(run.state == .succeeded, "\(run.tasks.mapValues(\.state))")
        #expect(run.tasks["consume"]?.output?["doubled"]?.intValue == 14, "\(String(describing: run.tasks["consume"]?.output))")
        #expect(run.tasks["skipper"]?.state == .skipped)
        #expect(run.tasks["skipper"]?.attempts.last?.outcome == .skipped)
        #expect(run.tasks["after_skip"]?.state == .skipped)

        let store = try await StateStore(.sqlite(path: system.directory.appendingPathComponent("state.sqlite").path))
        let produced = try await store.logLines(AttemptID(runID: runID, taskID: "produce", tryNumber: 1))
        await store.close()
        let texts = produced.lines.map(\.text)
        #expect(produced.attemptEnded)
        #expect(produced.lines.contains { $0.stream == "stdout" && $0.text.contains("connecting to") }, "\(texts)")
        #expect(produced.lines.contains { $0.stream == "stderr" && $0.text == "to stderr" }, "\(texts)")
        #expect(produced.lines.map(\.seq) == Array(1...produced.lines.count), "sequence numbers without gaps")
        #expect(!texts.joined(separator: "\n").contains(Self.password), "\(texts)")
    }
}
