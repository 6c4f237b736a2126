import Foundation
import LockstepBus
import LockstepCore
@testable import LockstepServices
import LockstepTestKit
import LockstepTestSupport
import Logging
import Testing

/// The PostgreSQL state store rides out a lost connection: a server restart, an outage, a COMMIT
/// whose acknowledgement never arrived — without being reopened, and saying so once in its log.
@Suite struct StoreReconnectTests {
    @Test func anImmediateRestartIsRiddenOutWithoutReopeningTheStore() async throws {
        let cluster = try await PostgresCluster.start(noblestride: false)
        defer { cluster.stop() }
        let database = try freshDatabase(cluster, "restart")
        let log = LogCapture()
        let store = try await StateStore(.postgres(uri: cluster.uri(database: database)), logger: log.logger)
        let before = Date(timeIntervalSince1970: 1_800_000_000)
        try await store.recordTick(dagID: "before", logicalDate: before)
        // The test cluster runs with synchronous_commit=off: flush the WAL so an immediate stop keeps the tick.
        try cluster.psql("CHECKPOINT")

        try await cluster.restart(mode: .immediate)

        // The store has not noticed yet (nothing told its idle connection); its next operations find out.
        let ticks = try await store.lastTicks()
        #expect(ticks == ["before": before])
        let after = Date(timeIntervalSince1970: 1_800_000_600)
        try await store.recordTick(dagID: "after", logicalDate: after)
        let ids = try await store.commit(state: EngineState(), touched: [], timersSet: [:], timersCleared: [], outbox: [Self.entry("e1")])
        #expect(ids.count == 1)
        let attempt = AttemptID(runID: "r", taskID: "t", tryNumber: 1)
        try await store.appendLogLines(attempt, [StoredLogLine(seq: 1, time: after, stream: "stdout", text: "after the restart")])
        #expect(try await store.logLines(attempt).lines.map(\.text) == ["after the restart"])
        #expect(try await store.lastTicks() == ["before": before, "after": after])
        #expect(store.health == .connected)
        await store.close()

        // Once per change of state, not once per try.
        #expect(log.lines(containing: "state store connection lost").count == 1, "\(log.all)")
        #expect(log.lines(containing: "state store connection restored").count == 1, "\(log.all)")
        #expect(!log.all.joined().contains(PostgresCluster.password))
    }

    /// The coordinator lease is a session lock on the same server: a restart ends it, and a standby
    /// may take it. The store rides out the restart for everyone, but will not let a coordinator
    /// commit on state it loaded before the restart.
    @Test func aCoordinatorsCommitIsRefusedAfterARestartUntilItReloadsItsState() async throws {
        let cluster = try await PostgresCluster.start(noblestride: false)
        defer { cluster.stop() }
        let database = try freshDatabase(cluster, "lease")
        let store = try await StateStore(.postgres(uri: cluster.uri(database: database)))
        _ = try await store.loadEngine()
        try await store.commit(state: EngineState(), touched: [], timersSet: [:], timersCleared: [], outbox: [Self.entry("before")])
        try cluster.psql("CHECKPOINT")

        try await cluster.restart(mode: .immediate)

        let error = await #expect(throws: StateStoreError.self) {
            try await store.commit(state: EngineState(), touched: [], timersSet: [:], timersCleared: [], outbox: [Self.entry("stale")])
        }
        #expect(error == .leaseMayBeLost(store: store.location.description) && error?.isRetryable == true)
        #expect(try await store.pendingOutbox().map(\.entry.eventJSON).allSatisfy { !$0.contains("stale") })
        // Everything else goes on; a coordinator that holds the lease again reloads, then commits.
        try await store.recordTick(dagID: "d", logicalDate: Date(timeIntervalSince1970: 1_800_000_000))
        _ = try await store.loadEngine()
        try await store.commit(state: EngineState(), touched: [], timersSet: [:], timersCleared: [], outbox: [Self.entry("after")])
        #expect(try await store.pendingOutbox().count == 2)
        await store.close()
    }

    @Test func healthSaysReconnectingWhileTheDatabaseIsDownAndConnectedOnceItIsBack() async throws {
        let cluster = try await PostgresCluster.start(noblestride: false)
        defer { cluster.stop() }
        let database = try freshDatabase(cluster, "health")
        let log = LogCapture()
        let store = try await StateStore(.postgres(uri: cluster.uri(database: database)), logger: log.logger)
        #expect(store.health == .connected)

        try cluster.stopServer(mode: .immediate)
        let waiting = Task { try await store.lastTicks() }
        // The operation is inside its reconnect loop; health answers without waiting for it.
        var seen: StoreHealth = .connected
        try? await poll("the store's health to say it is reconnecting", timeout: .seconds(20)) {
            seen = store.health
            if case .reconnecting = seen { return true }
            return false
        }
        guard case .reconnecting(let since, let lastError) = seen else {
            Issue.record("health never said reconnecting: \(seen)")
            return
        }
        #expect(since <= Date() && !lastError.isEmpty && !lastError.contains(PostgresCluster.password), "\(lastError)")

        try await cluster.startServer()
        #expect(try await waiting.value == [:])
        #expect(store.health == .connected)
        await store.close()
        #expect(log.lines(containing: "state store connection lost").count == 1, "\(log.all)")
        #expect(log.lines(containing: "state store connection restored").count == 1, "\(log.all)")
    }

    @Test func anOutageLongerThanTheBudgetFailsRetryablyAndTheNextOperationReconnects() async throws {
        let cluster = try await PostgresCluster.start(noblestride: false)
        defer { cluster.stop() }
        let database = try freshDatabase(cluster, "budget")
        let policy = ReconnectPolicy(initialDelay: .milliseconds(20), maxDelay: .milliseconds(100), budget: .milliseconds(600))
        let store = try await StateStore(.postgres(uri: cluster.uri(database: database)), reconnect: policy)

        try cluster.stopServer(mode: .fast)
        let error = await #expect(throws: StateStoreError.self) { try await store.recordTick(dagID: "d", logicalDate: Date()) }
        guard case .unavailable(let name, _, let lastError)? = error else {
            Issue.record("expected unavailable, got \(String(describing: error))")
            return
        }
        #expect(error?.isRetryable == true)
        #expect(name == StoreLocation.postgres(uri: cluster.uri(database: database)).description)
        #expect(!lastError.contains(PostgresCluster.password) && !"\(error!)".contains(PostgresCluster.password))
        guard case .reconnecting = store.health else {
            Issue.record("health: \(store.health)")
            return
        }

        try await cluster.startServer()
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        try await store.recordTick(dagID: "d", logicalDate: at)
        #expect(try await store.lastTicks() == ["d": at])
        #expect(store.health == .connected)
        await store.close()
    }

    /// The server ran the COMMIT, but its answer was lost on the way back: the store asks the server
    /// what became of the transaction and does not run it again (the outbox row exists once).
    @Test func aCommitWhoseAcknowledgementWasLostTakesEffectOnce() async throws {
        let cluster = try await PostgresCluster.shared()
        let database = try freshDatabase(cluster, "lostack")
        let proxy = try FaultyTCPProxy(upstreamPort: cluster.port)
        defer { proxy.stop() }
        let log = LogCapture()
        let store = try await StateStore(.postgres(uri: Self.uri(cluster, database, via: proxy)), logger: log.logger)

        proxy.arm(.dropResponse(marker: "COMMIT"))
        let ids = try await store.commit(state: EngineState(), touched: [], timersSet: [:], timersCleared: [], outbox: [Self.entry("once")])
        #expect(proxy.hits == 1)
        let pending = try await store.pendingOutbox()
        #expect(pending.map(\.id) == ids && pending.count == 1, "\(pending.map(\.id)) vs \(ids)")
        #expect(store.health == .connected)
        await store.close()
        #expect(log.lines(containing: "state store connection lost").count == 1, "\(log.all)")
    }

    /// The connection broke before the COMMIT reached the server: the transaction died with the
    /// session, and the store runs it again on a new one (the outbox row exists once).
    @Test func aCommitThatNeverReachedTheServerIsRunAgainOnce() async throws {
        let cluster = try await PostgresCluster.shared()
        let database = try freshDatabase(cluster, "lostreq")
        let proxy = try FaultyTCPProxy(upstreamPort: cluster.port)
        defer { proxy.stop() }
        let store = try await StateStore(.postgres(uri: Self.uri(cluster, database, via: proxy)))

        proxy.arm(.dropRequest(marker: "COMMIT"))
        let ids = try await store.commit(state: EngineState(), touched: [], timersSet: [:], timersCleared: [], outbox: [Self.entry("again")])
        #expect(proxy.hits == 1)
        let pending = try await store.pendingOutbox()
        #expect(pending.map(\.id) == ids && pending.count == 1, "\(pending.map(\.id)) vs \(ids)")
        #expect(pending.first?.entry.eventJSON.contains("again") == true)
        await store.close()
    }

    @Test func backoffDoublesFromTheFirstDelayUpToTheCap() {
        let policy = ReconnectPolicy(initialDelay: .milliseconds(100), maxDelay: .seconds(5))
        let delays = (0...9).map { policy.delay(afterFailures: $0) }
        #expect(delays == [.zero, .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800),
                           .milliseconds(1600), .milliseconds(3200), .seconds(5), .seconds(5), .seconds(5)])
        for failures in 1...9 {
            let jittered = policy.jitteredDelay(afterFailures: failures)
            #expect(jittered <= policy.delay(afterFailures: failures) && jittered >= policy.delay(afterFailures: failures) * 0.8)
        }
    }

    // MARK: Helpers

    static func entry(_ id: String) -> OutboxEntry {
        OutboxEntry(topic: "lockstep.test", key: "k", event: CloudEvent(id: id, source: "test", type: "lockstep.test", data: .string(id)))
    }

    static func uri(_ cluster: PostgresCluster, _ database: String, via proxy: FaultyTCPProxy) -> String {
        cluster.uri(database: database).replacingOccurrences(of: ":\(cluster.port)/", with: ":\(proxy.port)/")
    }
}

/// Log lines written through `logger`, kept for assertions.
final class LogCapture: @unchecked Sendable {
    // @unchecked: `stored` is only touched with `lock` held.
    private let lock = NSLock()
    private var stored: [String] = []

    var logger: Logger { Logger(label: "test") { _ in Handler(capture: self) } }

    var all: [String] { lock.withLock { stored } }

    func lines(containing text: String) -> [String] { all.filter { $0.contains(text) } }

    fileprivate func append(_ line: String) { lock.withLock { stored.append(line) } }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
            capture.append("\(event.level) \(event.message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
        }
    }
}
