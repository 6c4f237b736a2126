import Foundation
import LockstepBus
import LockstepCore
import LockstepServices
import LockstepTestKit
import LockstepTestSupport
import LockstepWire
import Testing

/// What producers and ops rely on, on both buses: requests start runs, keys dedupe, bad records go to
/// the dead-letter topic with a reason and can be resubmitted after a fix, replays rerun exactly the
/// range asked for, and rebuilding the state from the topics is repeatable.
@Suite(.serialized) struct ProducerInterfaceTests {
    static let noop = DagSpec(id: "ingest", maxActiveRuns: 1000, params: ["limit": ParamSpec(type: .integer)], tasks: [task("a")])

    /// A binary-mode run request as any Kafka producer would write it, without Lockstep's helpers.
    static func request(_ data: String, id: String = UUID().uuidString, type: String = "lockstep.run.requested", time: Date? = nil) -> OutgoingRecord {
        OutgoingRecord(topic: "lockstep.runs.requests", key: "ingest", value: Array(data.utf8), headers: [
            BusHeader("ce_specversion", "1.0"), BusHeader("ce_id", id), BusHeader("ce_source", "test-producer"),
            BusHeader("ce_type", type), BusHeader("content-type", "application/json"),
        ], timestamp: time)
    }

    @Test(arguments: Transport.allCases)
    func malformedRecordsGoToDeadLettersWithAReasonAndValidOnesAllRun(_ transport: Transport) async throws {
        let dir = try TestPaths.temporaryDirectory("lockstep-producers")
        let fixture = try await transport.start(directory: dir)
        defer { fixture.stop() }
        let system = try await InProcessLockstep(dags: [Self.noop], directory: dir, bus: try fixture.makeBus())
        try await system.runtime.createTopics()
        system.start()

        // Ten kinds of bad record, 100 of each, interleaved with 100 valid requests.
        let badKinds: [(String, (Int) -> OutgoingRecord)] = [
            ("not JSON", { i in OutgoingRecord(topic: "lockstep.runs.requests", key: "x", value: Array("garbage \(i) \u{1}".utf8)) }),
            ("JSON but no CloudEvent headers", { i in OutgoingRecord(topic: "lockstep.runs.requests", key: "x", value: Array("{\"dag_id\":\"ingest\",\"n\":\(i)}".utf8)) }),
            ("structured mode, not an object", { _ in OutgoingRecord(topic: "lockstep.runs.requests", key: "x", value: Array("[1,2]".utf8), headers: [BusHeader("content-type", "application/cloudevents+json")]) }),
            ("unknown type", { _ in Self.request("{}", type: "lockstep.nonsense") }),
            ("missing dag_id", { _ in Self.request("{\"conf\":{}}") }),
            ("unknown DAG", { i in Self.request("{\"dag_id\":\"nope\",\"idempotency_key\":\"n\(i)\"}") }),
            ("conf not an object", { _ in Self.request("{\"dag_id\":\"ingest\",\"conf\":5}") }),
            ("conf against params", { i in Self.request("{\"dag_id\":\"ingest\",\"conf\":{\"limit\":\"ten\"},\"idempotency_key\":\"bad\(i)\"}") }),
            ("unknown param", { i in Self.request("{\"dag_id\":\"ingest\",\"conf\":{\"extra\":1},\"idempotency_key\":\"x\(i)\"}") }),
            ("empty run id", { _ in Self.request("{\"dag_id\":\"ingest\",\"run_id\":\"\"}") }),
        ]
        var records: [OutgoingRecord] = []
        var validKeys: [String] = []
        for i in 0..<100 {
            for (_, make) in badKinds { records.append(make(i)) }
            validKeys.append("ok-\(i)")
            records.append(Self.request("{\"dag_id\":\"ingest\",\"idempotency_key\":\"ok-\(i)\",\"conf\":{\"limit\":\(i)}}"))
        }
        // The same key again starts no second run.
        records.append(Self.request("{\"dag_id\":\"ingest\",\"idempotency_key\":\"ok-0\"}"))
        for chunk in stride(from: 0, to: records.count, by: 100) {
            try await system.runtime.bus.publish(Array(records[chunk..<min(chunk + 100, records.count)]))
        }

        for key in validKeys { _ = try await system.waitForRun("ingest~\(key)", timeout: .seconds(120)) }
        let letters = try await system.events(on: system.runtime.topics.deadLetters, until: { Set($0.map(\.id)).count >= 1000 }, timeout: .seconds(60))
        let runs = try await system.runtime.store.runs(dagID: "ingest", limit: 1000)
        #expect(runs.count == 100)
        #expect(runs.allSatisfy { $0.state == .succeeded })
        #expect(runs.first { $0.id == "ingest~ok-7" }?.conf == ["limit": 7])
        let distinct = Dictionary(letters.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        #expect(distinct.count == 1000)
        let reasons = distinct.values.compactMap { $0.data?["reason"]?.stringValue }
        #expect(reasons.count == 1000 && reasons.allSatisfy { !$0.isEmpty })
        for (fragment, expected) in [("unknown DAG `nope`", 100), ("`limit` must be integer", 100), ("unknown param `extra`", 100),
                                     ("`run_id` must not be empty", 100), ("unknown event type", 100), ("`dag_id`", 100)] {
            #expect(reasons.filter { $0.contains(fragment) }.count == expected, "reasons containing \(fragment)")
        }
        #expect(distinct.values.allSatisfy { $0.data?["original"]?["topic"]?.stringValue == "lockstep.runs.requests" && $0.data?["original"]?["offset"] != nil })
        await system.close()
    }

    @Test(arguments: Transport.allCases)
    func aDeadLetterIsRedrivenAfterTheFix(_ transport: Transport) async throws {
        let dir = try TestPaths.temporaryDirectory("lockstep-redrive")
        let fixture = try await transport.start(directory: dir)
        defer { fixture.stop() }
        // A producer asks for a DAG this deployment does not have yet…
        let before = try await InProcessLockstep(dags: [Self.noop], directory: dir, bus: try fixture.makeBus())
        try await before.runtime.createTopics()
        before.start()
        try await before.runtime.bus.publish(Self.request("{\"dag_id\":\"reports\",\"idempotency_key\":\"first\"}"))
        let letters = try await before.events(on: before.runtime.topics.deadLetters, until: { !$0.isEmpty })
        await before.close()
        let letter = try #require(letters.first)
        #expect(letter.data?["reason"]?.stringValue?.contains("unknown DAG `reports`") == true)

        // …the DAG is deployed, and ops resubmit the dead letter.
        let reports = DagSpec(id: "reports", tasks: [task("r")])
        let after = try await InProcessLockstep(dags: [Self.noop, reports], directory: dir, bus: try fixture.makeBus())
        after.start()
        let entries = try await DeadLetters(runtime: after.runtime).list()
        #expect(entries.map(\.id) == [letter.id])
        _ = try await DeadLetters(runtime: after.runtime).redrive(letter.id, ops: OpsActions(runtime: after.runtime, actor: "test-ops"))
        let run = try await after.waitForRun("reports~first", timeout: .seconds(60))
        let audit = try await after.events(on: after.runtime.topics.ops, until: { $0.contains { $0.type == "lockstep.ops.redrive" } })
        await after.close()
        #expect(run.state == .succeeded)
        #expect(audit.first { $0.type == "lockstep.ops.redrive" }?.data?["actor"] == "test-ops")
    }

    @Test(arguments: Transport.allCases)
    func replayingYesterdaysRequestsRerunsExactlyThoseAsNewRunsAndRebuildIsRepeatable(_ transport: Transport) async throws {
        let dir = try TestPaths.temporaryDirectory("lockstep-replay")
        let fixture = try await transport.start(directory: dir)
        defer { fixture.stop() }
        let system = try await InProcessLockstep(dags: [Self.noop], directory: dir, bus: try fixture.makeBus())
        try await system.runtime.createTopics()
        system.start()
        let calendar = Calendar(identifier: .gregorian)
        let todayStart = calendar.startOfDay(for: Date())
        let yesterdayStart = todayStart.addingTimeInterval(-86_400)
        let yesterday = [3600.0, 7200, 36_000].map { yesterdayStart.addingTimeInterval($0) }
        var ids: [String] = []
        for (i, time) in (yesterday + [Date().addingTimeInterval(-60), Date()]).enumerated() {
            let id = "request-\(i)"
            ids.append(id)
            try await system.runtime.bus.publish(Self.request("{\"dag_id\":\"ingest\",\"conf\":{\"limit\":\(i)}}", id: id, time: time))
        }
        for id in ids { _ = try await system.waitForRun("ingest~\(id)", timeout: .seconds(60)) }

        let replay = Replay(runtime: system.runtime)
        let plan = try await replay.plan(
            topic: "lockstep.runs.requests", from: .time(yesterdayStart), to: .time(todayStart.addingTimeInterval(-0.001)), batch: "b1")
        #expect(plan.map(\.original.id) == ["request-0", "request-1", "request-2"])  // what --dry-run lists
        #expect(try await system.runtime.store.runs(dagID: "ingest").count == 5)   // a plan publishes nothing
        #expect(throws: OpsError.self) { try replay.checkReplayable("lockstep.tasks.results") }
        try await replay.execute(plan, topic: "lockstep.runs.requests", ops: OpsActions(runtime: system.runtime))
        var reruns: [DagRun] = []
        for item in plan { reruns.append(try await system.waitForRun(item.request.runID, timeout: .seconds(60))) }
        #expect(reruns.map(\.id) == ["ingest~request-0~replay-b1", "ingest~request-1~replay-b1", "ingest~request-2~replay-b1"])
        #expect(reruns.map(\.trigger) == [.replay(of: "request-0"), .replay(of: "request-1"), .replay(of: "request-2")])
        #expect(reruns.map(\.conf) == [["limit": 0], ["limit": 1], ["limit": 2]])
        #expect(reruns.allSatisfy { $0.state == .succeeded })
        #expect(try await system.runtime.store.runs(dagID: "ingest").count == 8)
        await system.stop()

        // Rebuild the state from the topics, three times: the same state each time, every run in it.
        let rebuild = Rebuild(runtime: system.runtime)
        let summary = try await rebuild.run()
        // Eight runs, each a request, a start and a result; the store committed after the replay ended.
        #expect(summary.runs == 8 && summary.events == 24 && summary.committed >= summary.replayed && summary.replayed >= summary.read)
        let (first, firstTimers) = try await system.runtime.store.loadEngine()
        try await rebuild.run()
        let (second, secondTimers) = try await system.runtime.store.loadEngine()
        // Read five records at a time (the inputs span several chunks): the same state again.
        try await Rebuild(runtime: system.runtime, chunkSize: 5).run()
        let (chunked, chunkedTimers) = try await system.runtime.store.loadEngine()
        await system.close()
        #expect(first == second && firstTimers == secondTimers)
        #expect(chunked == first && chunkedTimers == firstTimers)
        #expect(first.runs.count == 8 && first.runs.values.allSatisfy { $0.state == .succeeded })
    }
}
