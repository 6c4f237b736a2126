import Foundation
import LockstepBus
import LockstepCore
import LockstepServices
import LockstepTestSupport
import LockstepWire
import Testing

extension SystemTests {
    // MARK: 2c. A worker killed during a command: its log survives, the take-over's lines apart

    /// kill -9 of the worker running a `command` after it stored its first lines. The survivor runs the
    /// attempt again as the same try; the try's log keeps the killed execution's lines, then one marker
    /// naming the survivor, then the survivor's lines: each once, never mixed.
    @Test func aWorkerKilledDuringACommandLeavesItsLinesAndTheTakeOversLinesFollowApart() async throws {
        let system = try await SystemCluster.shared()
        try await system.prepare()
        defer { system.expectNoCrashes() }
        let run = try await system.requestRun(SystemDags.chatty)
        let release = system.reportsDirectory.appendingPathComponent("release-\(run)")
        // Whatever happens, the programs (the killed worker's orphan too) stop waiting.
        defer { _ = FileManager.default.createFile(atPath: release.path, contents: nil) }
        let attempt = AttemptID(runID: run, taskID: "talk", tryNumber: 1)

        // The killed execution's three lines are in the store before the kill.
        var before: [StoredLogLine] = []
        try await system.waitUntil("the first execution's lines stored", timeout: .seconds(120)) {
            before = try await system.store.logLines(attempt).lines
            return before.filter { $0.stream == "stdout" }.count == 3
        }
        let started = try await system.events(on: system.topics.taskResults) {
            $0.contains { isAttempt($0, EventType.attemptStarted, run: run, task: "talk") }
        }
        let holderID = try #require(started.first { isAttempt($0, EventType.attemptStarted, run: run, task: "talk") }?.data?["worker"]?.stringValue)
        let (holderName, _) = try #require(system.workerComponent(forWorkerID: holderID), "no worker process for \(holderID)")
        let survivor = try #require(system.component(holderName == "worker-1" ? "worker-2" : "worker-1"))
        system.kill9(holderName)
        _ = FileManager.default.createFile(atPath: release.path, contents: nil)

        let finished = try await system.waitForRun(run)
        try #require(finished.state == .succeeded, "run \(run): \(finished.state) \(finished.failure ?? "")\n\(system.diagnostics())")
        #expect(finished.tasks["talk"]?.tryNumber == 1, "the crash spent no retry")

        let lines = try await system.store.logLines(attempt).lines
        let texts = lines.map(\.text)
        #expect(lines.map(\.seq) == Array(1...lines.count), "\(lines.map(\.seq))")
        let markers = lines.indices.filter { lines[$0].text.hasPrefix("[lockstep]") }
        try #require(markers.count == 1, "\(texts)")
        let marker = markers[0]
        let survivorWorker = try #require(Self.talkStarter(started: try await system.events(on: system.topics.taskResults), run: run, pid: survivor.pid))
        #expect(lines[marker].stream == "operator"
                && texts[marker].hasPrefix("[lockstep] \(survivorWorker) took this attempt over (same try): lines 1–\(marker) came before"),
                "\(texts[marker])")
        // Above the marker the killed execution's program, below it the survivor's: each line once.
        let killed = lines[..<marker].filter { $0.stream == "stdout" }.map(\.text)
        let taken = lines[(marker + 1)...].filter { $0.stream == "stdout" }.map(\.text)
        let firstPID = try #require(killed.first.flatMap(Self.pid(in:)), "\(texts)")
        let secondPID = try #require(taken.last.flatMap(Self.pid(in:)), "\(texts)")
        #expect(firstPID != secondPID)
        #expect(killed == (1...3).map { "line \($0) of execution \(firstPID)" }, "\(texts)")
        #expect(taken == (1...3).map { "line \($0) of execution \(secondPID)" } + ["done by \(secondPID)"], "\(texts)")
        // What was stored before the kill is unchanged, and is all that stands above the marker.
        #expect(Array(lines[..<before.count]) == before && before.count == marker, "\(before.map(\.text))\n\(texts)")

        // What a user sees: `lockstep logs`, the two executions apart, in order.
        let shown = try await system.lockstep(["logs", run, "talk", "--state", system.stateURI])
        #expect(shown.status == 0, "\(shown.errors)")
        let printed = shown.output.split(separator: "\n").map(String.init)
        #expect(printed.count == lines.count && printed[marker].contains(" operator [lockstep] \(survivorWorker) took this attempt over"), "\(shown.output)")
        #expect(printed.contains { $0.hasSuffix(" stdout   done by \(secondPID)") }, "\(shown.output)")
    }

    /// The pid in `line N of execution PID`.
    static func pid(in text: String) -> String? {
        text.split(separator: " ").last.map(String.init).flatMap { Int($0) != nil ? $0 : nil }
    }

    /// The worker id (of the process `pid`) that started `talk` of `run`.
    static func talkStarter(started events: [CloudEvent], run: RunID, pid: Int32) -> String? {
        events.filter { isAttempt($0, EventType.attemptStarted, run: run, task: "talk") }
            .compactMap { $0.data?["worker"]?.stringValue }
            .first { SystemCluster.pid(ofWorkerID: $0) == pid }
    }
}
