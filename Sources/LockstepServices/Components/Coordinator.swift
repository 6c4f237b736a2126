import Foundation
import LockstepBus
import LockstepCore
import LockstepWire
import Logging
import ServiceLifecycle

/// Consumes ticks, run requests, ops events and attempt results; applies the engine; commits the new
/// state, its timers and the events to publish in one transaction (the outbox); then publishes them
/// and commits the consumed offset. A crash anywhere leads to a redelivery or a republish, never a
/// lost step, and both are harmless because the engine ignores what it has already seen.
///
/// Exactly one coordinator is active: it holds the store's coordinator lease, and a standby waits
/// for the lease until the active one dies.
///
/// Each attempt goes to the command topic of its task's queue: the `queue:` the DAG file gives the
/// task, else the one its operator's pack declares (`notify_training_complete`: the notifier's).
public final class Coordinator: Service, Sendable {
    public static let group = "lockstep-coordinator"
    let runtime: Runtime
    let engine: Engine

    public init(runtime: Runtime) {
        self.runtime = runtime
        engine = Engine(dags: runtime.dags, config: runtime.config)
    }

    static let component = "coordinator"

    public func run() async throws {
        do {
            try await runtime.withHeartbeat(Self.component, kind: .coordinator) {
                try await runtime.createTopicsPersistently(Self.component)
                try await lead()
            }
        } catch is CancellationError {
        } catch {
            runtime.logger.error("coordinator cannot go on: \(error)")
            throw error
        }
        runtime.logger.info("coordinator stopped")
    }

    /// Holds the lease and advances runs until a graceful shutdown. When the store or the broker
    /// fails in a way trying again may fix — the store reconnected, so the lease (a session lock) may
    /// have ended with the old session; the store or the broker stayed away past its budget; a
    /// COMMIT's outcome is unknown — it stops consuming (committing the offsets of only the records
    /// whose effects it stored), lets go of the lease, takes it again (standing by if another
    /// coordinator took it meanwhile), reloads the state, republishes the outbox and goes on from
    /// the committed offsets. The records after those are handled again, which changes nothing the
    /// store already has: the engine ignores what it has seen. Anything else (a schema newer than
    /// this release, a failed migration, a fatal bus error) ends the coordinator with its cause.
    private func lead() async throws {
        let log = runtime.logger
        let health = runtime.health
        /// Since when the coordinator has not been active, and why: set by a failure, cleared (and
        /// logged once) when it is active again. Repeated failures of one outage log nothing more.
        var outage: (since: ContinuousClock.Instant, cause: String)?
        var failures = 0
        log.info("coordinator waiting for the lease", metadata: ["store": .string(runtime.store.location.description)])
        while true {
            let lease = try await takeLease()
            do {
                try await advance(whenActive: {
                    if let (since, cause) = outage {
                        let seconds = String(format: "%.1f", (ContinuousClock.now - since).timeInterval)
                        log.notice("coordinator active again after \(seconds)s (recovered from: \(cause))")
                    } else {
                        log.info("coordinator active")
                    }
                    outage = nil
                    failures = 0
                })
                lease.release()
                return
            } catch {
                lease.release()
                guard TransientFailure.dependency(of: error) != nil else { throw error }
                if Task.isShuttingDownGracefully || Task.isCancelled { return }
                failures += 1
                let cause = "\(error)"
                health.set(Self.component, .recovering, detail: "re-acquiring the lease and reloading the state after: \(cause)")
                if outage == nil {
                    outage = (ContinuousClock.now, cause)
                    log.warning("coordinator stopped consuming, committing only the records whose effects it stored (\(cause)); re-acquiring the lease, reloading the state and going on from the committed offsets")
                } else {
                    log.debug("coordinator recovery failed again: \(cause)")
                }
                // Only a failure that repeats backs off: the first recovery (after a restart) is immediate.
                if failures > 1 {
                    do { try await Task.sleep(for: ReconnectPolicy.standard.jitteredDelay(afterFailures: failures - 1)) } catch { return }
                }
            }
        }
    }

    /// The lease, once it is ours; waits while the database is unreachable.
    private func takeLease() async throws -> CoordinatorLease {
        let log = runtime.logger, health = runtime.health, location = runtime.store.location
        return try await runtime.persistently(Self.component, "taking the coordinator lease") {
            try await CoordinatorLease.acquire(location, logger: log) {
                health.set(Self.component, .standby, detail: "another coordinator holds the lease")
                log.info("another coordinator holds the lease; standing by until it stops")
            }
        }
    }

    /// One term as the active coordinator: from loading the state to a graceful shutdown (returns)
    /// or a failure (throws, having closed the consumer without committing what it held).
    private func advance(whenActive active: () -> Void) async throws {
        var (state, timers) = try await runtime.store.loadEngine(finishedRunsOf: engine.dagsWithDependsOnPast)
        engine.forgetFinishedRuns(in: &state)
        let timerWheel = TimerWheel(timers, clock: runtime.clock)
        try await flushOutbox()
        let consumer = try await runtime.watchingBroker(Self.component, "joining group \(Self.group)") {
            try await runtime.bus.subscribe(group: Self.group, topics: runtime.topics.coordinatorInputs)
        }
        runtime.health.set(Self.component, .running, detail: "active")
        active()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.fireTimers(timerWheel) }
            defer { group.cancelAll() }
            // Offsets are committed in the background: a record handled again after a crash changes
            // nothing, and each commit is a durable write of its own.
            var sent: [Int64] = []
            do {
                try await runtime.committingInBackground(on: consumer, every: Self.commitInterval) { commits in
                    for try await records in consumer.batches(max: Self.maxBatch).cancelOnGracefulShutdown() {
                        var step = StepOutput()
                        var events: [(EngineEvent, BusRecord)] = []
                        for record in records {
                            guard let event = try await decode(record) else { continue }  // dead-lettered or audit-only
                            events.append((event, record))
                        }
                        let stored = try await requestsForStoredRuns(events.map(\.0), state: state)
                        for (event, record) in events {
                            if let id = event.requestedRunID, stored.contains(id) { continue }  // that run exists already
                            apply(event, from: record, to: &state, into: &step)
                        }
                        sent = try await finish(step, state: &state, timers: timerWheel, sent: sent)
                        // Only now are these records' effects in the store: their offsets may be committed
                        // (`OffsetCommits` keeps the last of each partition).
                        for record in records { commits.handled(record.position) }
                    }
                }
            } catch is CancellationError {
            } catch {
                // Leaving the group hands the records not yet stored to whoever holds the lease next.
                await consumer.close()
                throw error
            }
            await consumer.close()
        }
    }

    /// How long handled records may wait for their offsets to be committed.
    static let commitInterval = Duration.milliseconds(100)
    /// Records handled in one transaction at most.
    static let maxBatch = 256

    /// What a batch of records asks for: written in one transaction, then published.
    struct StepOutput {
        var outbox: [OutboxEntry] = []
        var timersSet: [TimerID: Date] = [:]
        var timersCleared: Set<TimerID> = []
        var touched: Set<RunID> = []
        var flagsChanged = false
        /// Spans of the runs this batch finished, exported once it is committed.
        var spans: [Span] = []
        var isEmpty: Bool { outbox.isEmpty && timersSet.isEmpty && timersCleared.isEmpty && touched.isEmpty && !flagsChanged }
    }

    /// The runs these events request that the store has though the engine does not know them: finished
    /// runs it forgot. A request repeated after its run finished (a producer's retry, a replayed
    /// topic, a schedule tick fired again) changes nothing, as it would had the run stayed in memory.
    /// One indexed query for a batch that requests runs the engine does not hold; none otherwise.
    func requestsForStoredRuns(_ events: [EngineEvent], state: EngineState) async throws -> Set<RunID> {
        let unknown = Set(events.compactMap(\.requestedRunID).filter { !state.knows($0) })
        guard !unknown.isEmpty else { return [] }
        return try await runtime.store.storedRuns(among: unknown)
    }

    /// The engine input a record holds; a record that is not one goes to the dead-letter topic.
    func decode(_ record: BusRecord) async throws -> EngineEvent? {
        do {
            let cloudEvent = try CloudEvent(record)
            guard let event = try WireCodec.decodeEngineEvent(cloudEvent) else {
                // The ops topic is also the audit trail: entries the engine has no part in are fine there.
                if record.topic == runtime.topics.ops && cloudEvent.type.hasPrefix("lockstep.ops.") { return nil }
                try await deadLetter(record, reason: "unknown event type `\(cloudEvent.type)` on \(record.topic)")
                return nil
            }
            return event
        } catch let error as EventDecodingError {
            try await deadLetter(record, reason: error.description)
        } catch let error as WireError {
            try await deadLetter(record, reason: error.description)
        }
        return nil
    }

    private func deadLetter(_ record: BusRecord, reason: String) async throws {
        try await runtime.watchingBroker(Self.component, "dead-lettering \(record.position)") {
            try await runtime.deadLetter(record, component: Self.component, reason: reason)
        }
    }

    /// Applies one event and turns the engine's commands into outbox entries and timer changes.
    func apply(_ event: EngineEvent, from record: BusRecord, to state: inout EngineState, into step: inout StepOutput) {
        // The record's time (its publisher's clock), not this process's clock: replaying the log gives
        // the same state.
        let now = record.timestamp
        let (commands, touched) = engine.applyTracking(event, to: &state, now: now)
        step.touched.formUnion(touched)
        step.flagsChanged = step.flagsChanged || event.changesEngineFlags
        if case .timerFired(let timer) = event {
            step.timersCleared.insert(timer)
            step.timersSet[timer] = nil
        }
        for command in commands {
            switch command {
            case .dispatch(let dispatch):
                let topic = runtime.topics.commands(for: queue(of: dispatch))
                step.outbox.append(entry(
                    id: "dispatch/\(dispatch.attempt)", type: EventType.taskDispatched, subject: dispatch.attempt.description,
                    data: WireCodec.encode(dispatch), topic: topic, key: dispatch.attempt.runID, now: now,
                    trace: state.trace(of: dispatch.attempt.runID), spanID: TraceContext.spanID(of: dispatch.attempt)))
            case .startTimer(let timer, let at):
                step.timersSet[timer] = at
                step.timersCleared.remove(timer)
            case .cancelTimer(let timer):
                step.timersCleared.insert(timer)
                step.timersSet[timer] = nil
            case .abandon(let attempt, let reason):
                step.outbox.append(entry(
                    id: "abandon/\(attempt)", type: EventType.attemptAbandoned, subject: attempt.description,
                    data: ["run_id": .string(attempt.runID), "task_id": .string(attempt.taskID), "try_number": .int(Int64(attempt.tryNumber)), "reason": .string(reason)],
                    topic: runtime.topics.runEvents, key: attempt.runID, now: now,
                    trace: state.trace(of: attempt.runID), spanID: TraceContext.spanID(of: attempt)))
            case .publish(let lifecycle):
                let (type, data) = WireCodec.encode(lifecycle)
                let id = "\(lifecycle.kind.rawValue)/\(lifecycle.runID)/\(lifecycle.taskID ?? "-")/\(lifecycle.tryNumber ?? 0)"
                let trace = state.trace(of: lifecycle.runID)
                step.outbox.append(entry(id: id, type: type, subject: lifecycle.runID, data: data, topic: runtime.topics.runEvents,
                                         key: lifecycle.runID, now: now, trace: trace, spanID: RunSpans.spanID(of: lifecycle)))
                if let span = RunSpans.span(lifecycle, trace: trace) { step.spans.append(span) }
            case .requestRun(let request):
                // In the span the downstream run's trace names as its parent: the upstream run's.
                step.outbox.append(entry(
                    id: "request/\(request.runID)", type: EventType.runRequested, subject: request.dagID,
                    data: WireCodec.encodeRunRequest(request), topic: runtime.topics.runRequests, key: request.dagID, now: now,
                    trace: request.trace, spanID: request.trace?.parentSpanID ?? TraceContext.runSpanID(request.runID)))
            case .reject(let request, let reason):
                let data = DeadLetter.data(original: record, component: "coordinator", reason: reason, at: now)
                step.outbox.append(entry(
                    id: "deadletter/\(record.position)", type: EventType.deadLetter, subject: record.position.description,
                    data: data, topic: runtime.topics.deadLetters, key: record.key ?? record.position.description, now: now,
                    trace: request.trace, spanID: request.trace?.parentSpanID ?? TraceContext.runSpanID(request.runID)))
            }
        }
    }

    /// The queue whose workers run the attempt: the task's own, else its operator's default.
    func queue(of dispatch: TaskDispatch) -> TaskQueue {
        engine.dags[dispatch.dagID]?.task(dispatch.attempt.taskID)?.queue ?? runtime.registry.defaultQueue(for: dispatch.operator)
    }

    /// Commits a batch's changes in one transaction (deleting the previous batch's published outbox
    /// rows), then publishes its events; returns their outbox ids.
    func finish(_ step: StepOutput, state: inout EngineState, timers: TimerWheel, sent: [Int64]) async throws -> [Int64] {
        guard !step.isEmpty else { return sent }  // duplicates or stale events only: nothing to write
        let ids: [Int64]
        do {  // the snapshot ends with this scope: a copy still alive would make the next change copy every run
            let snapshot = state
            let records = step.outbox.map { runtime.stamped($0.record) }
            // The commit and the publish go to disk (or the brokers) side by side. Safe: if the commit fails
            // after the publish, the records are handled again from the last committed state and the engine,
            // being deterministic, publishes the same events under the same ids, which consumers drop.
            async let committed = runtime.store.commit(
                state: snapshot, touched: step.touched, timersSet: step.timersSet, timersCleared: step.timersCleared,
                outbox: step.outbox, deleteOutbox: sent)
            async let published = records.isEmpty ? [] : runtime.watchingBroker(Self.component, "publishing \(records.count) events") {
                try await runtime.bus.publish(records)
            }
            let commitStart = ContinuousClock.now
            ids = try await committed
            runtime.metrics.coordinatorBatch(events: step.outbox.count, commitSeconds: (ContinuousClock.now - commitStart).timeInterval)
            _ = try await published
        }
        // After the commit, so a run this batch finished is written before it leaves memory: it lives
        // in the store from now on, and a repeated request for it is recognised there
        // (`requestsForStoredRuns`). Walks the finished runs held only, not every run.
        engine.forgetFinishedRuns(in: &state)
        await timers.update(set: step.timersSet, cleared: step.timersCleared)
        runtime.spans.export(step.spans)
        return ids
    }

    private func entry(
        id: String, type: String, subject: String?, data: JSONValue, topic: String, key: String, now: Date,
        trace: TraceContext? = nil, spanID: String = ""
    ) -> OutboxEntry {
        // One source for every coordinator: a standby that takes over republishes the same events.
        var event = CloudEvent(id: id, source: "lockstep/coordinator", type: type, time: now, subject: subject, data: data)
        event.setTrace(trace, spanID: spanID)
        return OutboxEntry(topic: topic, key: key, event: event)
    }

    /// Publishes outbox entries in one batch; returns their ids.
    private func publish(_ entries: [(Int64, OutboxEntry)]) async throws -> [Int64] {
        guard !entries.isEmpty else { return [] }
        try await runtime.watchingBroker(Self.component, "republishing \(entries.count) outbox events") {
            _ = try await runtime.bus.publish(entries.map { runtime.stamped($0.1.record) })
        }
        return entries.map(\.0)
    }

    /// What a crashed predecessor (or this coordinator, before a recovery) committed but did not get
    /// to publish, or published without yet deleting it from the outbox.
    private func flushOutbox() async throws {
        while true {
            let pending = try await runtime.store.pendingOutbox()
            guard !pending.isEmpty else { return }
            runtime.logger.info("republishing \(pending.count) outbox events")
            try await runtime.store.markSent(try await publish(pending.map { ($0.id, $0.entry) }))
        }
    }

    /// Publishes a `timer.fired` event for each timer that is due; the event comes back through the
    /// results topic, so timer firings are in the log like everything else. A timer whose publish
    /// fails is tried again, backing off in real time (a bus recovers in real time), and the outage
    /// is reported once, not once per try.
    private func fireTimers(_ wheel: TimerWheel) async {
        var failures = 0
        var outage: ComponentHealth.WaitToken?
        while !Task.isCancelled {
            let due = await wheel.takeDue()
            var failed = false
            for timer in due {
                let (type, data) = WireCodec.encode(.timerFired(timer))
                let event = runtime.event(id: "timer/\(timer)", component: Self.component, type: type, subject: timer.description, data: data)
                do {
                    try await runtime.watchingBroker(Self.component, "publishing timer \(timer)") {
                        try await runtime.publish(event, to: runtime.topics.taskResults, key: timer.attempt.runID)
                    }
                } catch {
                    await wheel.retry(timer)
                    failed = true
                    if outage == nil {
                        outage = runtime.health.beginWait(Self.component, on: TransientFailure.dependency(of: error) ?? .broker,
                                                          detail: "publishing timer \(timer): \(error)", logger: runtime.logger)
                    }
                }
            }
            if failed {
                failures += 1
                try? await Task.sleep(for: ReconnectPolicy.standard.jitteredDelay(afterFailures: failures))
            } else if !due.isEmpty, let token = outage {
                runtime.health.endWait(token, recovered: true, logger: runtime.logger)
                outage = nil
                failures = 0
            }
            await wheel.waitForNextDue()
        }
        if let outage { runtime.health.endWait(outage, recovered: false, logger: runtime.logger) }
    }
}

private extension EngineEvent {
    /// Pause and unpause change state outside any run.
    var changesEngineFlags: Bool {
        switch self {
        case .dagPaused, .dagUnpaused: true
        default: false
        }
    }
}
