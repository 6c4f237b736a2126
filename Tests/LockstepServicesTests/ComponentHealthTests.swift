import Foundation
import LockstepCore
@testable import LockstepServices
import Testing

/// What a component says while its store or broker is away — once per change, not once per try —
/// and what `lockstep runs` makes of the heartbeats for a run that is not moving.
@Suite struct ComponentHealthTests {
    @Test func twoOperationsWaitingForTheBrokerLogOneWarningAndTheLastToRecoverOneNotice() {
        let log = LogCapture()
        let health = ComponentHealth()
        health.set("worker", .running)
        let first = health.beginWait("worker", on: .broker, detail: "publishing a", logger: log.logger)
        let second = health.beginWait("worker", on: .broker, detail: "publishing b", logger: log.logger)
        health.updateWait(second, detail: "publishing b: timed out")
        #expect(health.status(of: "worker")?.state == "waiting")
        #expect(health.status(of: "worker")?.waits.map(\.dependency) == [.broker])

        health.endWait(first, recovered: true, logger: log.logger)
        #expect(health.status(of: "worker")?.isWaiting == true, "one operation still waits")
        health.endWait(second, recovered: true, logger: log.logger)
        #expect(health.status(of: "worker")?.state == "running")

        #expect(log.lines(containing: "worker waiting for the broker").count == 1, "\(log.all)")
        #expect(log.lines(containing: "the broker answers again").count == 1, "\(log.all)")
    }

    @Test func aWaitThatEndsWithoutRecoveringSaysNothingMore() {
        let log = LogCapture()
        let health = ComponentHealth()
        let token = health.beginWait("scheduler", on: .stateStore, detail: "reading ticks", logger: log.logger)
        health.endWait(token, recovered: false, logger: log.logger)
        #expect(log.lines(containing: "answers again").isEmpty)
        #expect(health.status(of: "scheduler")?.isWaiting == false)
    }

    @Test func aReconnectingStoreIsAWaitOfEveryComponentThatHasNotStopped() {
        let since = Date(timeIntervalSince1970: 1_800_000_000)
        let health = ComponentHealth(storeHealth: { .reconnecting(since: since, lastError: "connection refused") })
        health.set("coordinator", .running, detail: "active")
        health.set("alerter", .stopped)
        let coordinator = health.status(of: "coordinator")
        #expect(coordinator?.state == "waiting" && coordinator?.since == since)
        #expect(coordinator?.summary.contains("waiting for the state store since") == true && coordinator?.summary.contains("connection refused") == true)
        #expect(health.status(of: "alerter")?.state == "stopped")
    }

    // MARK: RunWaiting

    static let now = Date(timeIntervalSince1970: 1_800_000_100)

    static func beat(_ component: String, _ kind: ComponentHeartbeat.Kind, state: String, detail: String, holding: [String] = [],
                     age: TimeInterval = 1) -> ComponentHeartbeat {
        ComponentHeartbeat(component: component, kind: kind, queue: kind == .worker ? "tasks" : nil, instance: "\(component)-host-1",
                           state: state, detail: detail, holding: holding, since: now.addingTimeInterval(-60), heartbeat: now.addingTimeInterval(-age))
    }

    /// A run of `d` whose task `t` has its first try running (or the run finished).
    static func run(finished: Bool = false) throws -> DagRun {
        let state = finished ? "succeeded" : "running", task = finished ? "succeeded" : "running"
        let json = """
            {"conf":{},"dagID":"d","id":"d~1","logicalDate":0,"requestedAt":0,"sequence":0,"startedAt":0,"state":"\(state)","tasks":{\
            "t":{"attempts":[{"scheduledAt":0,"tryNumber":1}],"maxTries":1,"state":"\(task)","taskID":"t","tryNumber":1,"warnings":[]}},\
            "trigger":{"manual":{}}}
            """
        return try JSONDecoder().decode(DagRun.self, from: Data(json.utf8))
    }

    @Test func aRunningRunWithAnActiveCoordinatorAndAWorkingWorkerWaitsForNothing() throws {
        let beats = [Self.beat("coordinator", .coordinator, state: "running", detail: "running: active"),
                     Self.beat("worker", .worker, state: "running", detail: "running", holding: ["d~1/t#1"])]
        #expect(RunWaiting.reasons(for: try Self.run(), heartbeats: beats, now: Self.now).isEmpty)
    }

    @Test func aWorkerWaitingForTheBrokerWithTheRunsAttemptIsNamed() throws {
        let beats = [Self.beat("coordinator", .coordinator, state: "running", detail: "running: active"),
                     Self.beat("worker", .worker, state: "waiting", detail: "waiting for the broker since x: publishing", holding: ["d~1/t#1"]),
                     Self.beat("other", .worker, state: "waiting", detail: "waiting for the broker since y", holding: ["e~1/t#1"])]
        let reasons = RunWaiting.reasons(for: try Self.run(), heartbeats: beats, now: Self.now)
        #expect(reasons == ["waiting: task t: worker worker-host-1 is waiting for the broker since x: publishing"])
    }

    @Test func aCoordinatorNotHeardFromIsSaidToBeSilentWithWhatItLastSaid() throws {
        let beats = [Self.beat("coordinator", .coordinator, state: "running", detail: "running: active", age: 40)]
        let reasons = RunWaiting.reasons(for: try Self.run(), heartbeats: beats, now: Self.now)
        #expect(reasons.count == 1)
        #expect(reasons.first?.hasPrefix("waiting: coordinator coordinator-host-1 has not reported for 40s (last: running: active)") == true, "\(reasons)")
        #expect(reasons.first?.contains("reconnecting to the state store") == true)
    }

    @Test func onlyStandbysMeansNoActiveCoordinator() throws {
        let beats = [Self.beat("coordinator", .coordinator, state: "standby", detail: "standby: another coordinator holds the lease")]
        let reasons = RunWaiting.reasons(for: try Self.run(), heartbeats: beats, now: Self.now)
        #expect(reasons.first?.hasPrefix("waiting: no active coordinator; 1 standing by") == true, "\(reasons)")
    }

    @Test func aFinishedRunWaitsForNothingWhateverTheHeartbeatsSay() throws {
        let beats = [Self.beat("coordinator", .coordinator, state: "waiting", detail: "waiting for the broker", age: 100)]
        #expect(RunWaiting.reasons(for: try Self.run(finished: true), heartbeats: beats, now: Self.now).isEmpty)
    }
}
