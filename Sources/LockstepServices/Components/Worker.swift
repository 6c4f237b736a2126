import Foundation
import LockstepBus
import LockstepCore
import LockstepOperators
import LockstepWire
import Logging
import ServiceLifecycle

/// Runs task attempts from a command topic as a member of a consumer group: publishes `started`, runs
/// the operator under its deadline, records the result durably, publishes it and the operator's own
/// events (health results, trained models), then commits. A command redelivered for an attempt that
/// already finished is answered with the recorded result instead of running it again.
///
/// The notifier is a worker in the `.notifier` role: it runs the `notifications` queue, and a
/// notification that fails on its last try also goes to the dead-letter topic.
public final class Worker: Service, Sendable {
    /// What a worker is for: which queue it runs, and what it does when a task gives up.
    public enum Role: String, Sendable, Hashable {
        /// Runs the `tasks` queue.
        case tasks
        /// Runs the `notifications` queue; a final failure is also dead-lettered with its payload, so
        /// ops can redrive the notification once the receiver is fixed.
        case notifier

        public var queue: TaskQueue {
            switch self {
            case .tasks: .tasks
            case .notifier: .notifications
            }
        }
    }

    public struct Options: Sendable {
        public var name: String
        public var group: String
        public var role: Role
        /// Consumes this topic instead of the role's queue's.
        public var topic: String?
        /// Attempts run at once; each is its own group member, so partitions spread over them.
        public var concurrency: Int
        public var dataDirectory: URL
        public var reportsDirectory: URL
        /// Limit for attempts of tasks without a timeout.
        public var defaultTimeout: Duration
        /// Caps and batching of each attempt's log.
        public var taskLog: TaskLog.Limits

        public init(
            name: String = "worker", group: String = "lockstep-workers", role: Role = .tasks, topic: String? = nil,
            concurrency: Int = 2, dataDirectory: URL, reportsDirectory: URL, defaultTimeout: Duration = .seconds(3600),
            taskLog: TaskLog.Limits = TaskLog.Limits()
        ) {
            self.name = name
            self.group = group
            self.role = role
            self.topic = topic
            self.concurrency = concurrency
            self.dataDirectory = dataDirectory
            self.reportsDirectory = reportsDirectory
            self.defaultTimeout = defaultTimeout
            self.taskLog = taskLog
        }

        public static func notifier(dataDirectory: URL, reportsDirectory: URL) -> Options {
            Options(name: "notifier", group: "lockstep-notifier", role: .notifier, concurrency: 2, dataDirectory: dataDirectory,
                    reportsDirectory: reportsDirectory)
        }
    }

    let runtime: Runtime
    let registry: OperatorRegistry
    let options: Options

    /// `registry` defaults to the runtime's: the operators of the packs the deployment loads.
    public init(runtime: Runtime, registry: OperatorRegistry? = nil, options: Options) {
        self.runtime = runtime
        self.registry = registry ?? runtime.registry
        self.options = options
    }

    var topic: String { options.topic ?? runtime.topics.commands(for: options.role.queue) }

    public func run() async throws {
        try await runtime.withHeartbeat(options.name, kind: .worker, queue: options.role.queue.rawValue) {
            try await runtime.createTopicsPersistently(options.name)
            runtime.health.set(options.name, .running)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for slot in 0..<max(1, options.concurrency) {
                    group.addTask { try await self.consume(slot: slot) }
                }
                try await group.waitForAll()
            }
        }
    }

    private func consume(slot: Int) async throws {
        let consumer = try await runtime.subscribePersistently(options.name, group: options.group, topics: [topic])
        runtime.logger.info("\(options.name) slot \(slot) consuming \(topic)")
        do {
            // Offsets committed in the background (`OffsetCommits`): a command delivered again is
            // answered with its recorded result, so a commit need not be a durable write per attempt.
            try await runtime.committingInBackground(on: consumer, every: Self.commitInterval) { commits in
                for try await record in consumer.records.cancelOnGracefulShutdown() {
                    // Returns once the record's effect is stored (its claim, and its result when it ran)
                    // or another worker took the attempt over; throws, leaving the record uncommitted,
                    // when shutting down first or on an error retrying cannot fix.
                    try await handle(record, slot: slot)
                    commits.handled(record.position)
                }
            }
        } catch is CancellationError {
        } catch {
            runtime.logger.error("\(options.name) slot \(slot) cannot go on: \(error)")
            await consumer.close()
            throw error
        }
        await consumer.close()
    }

    /// Who holds a claim: one consumer slot of this process. Per slot, not per process, because a
    /// rebalance can hand a record that one slot is still running to another slot of the same
    /// process; a claim shared by the two would let both run it.
    private func claimant(slot: Int) -> String { "\(options.name)/\(runtime.instance)/\(slot)" }

    /// How long a handled command may wait for its offset to be committed.
    static let commitInterval = Duration.milliseconds(100)
    /// How often a running attempt's claim is renewed (and its abandonment checked), on the runtime's
    /// clock; also how long a worker waits before looking again at an attempt another worker holds.
    public static let claimHeartbeat = Duration.seconds(2)
    /// How old a claim must be to be taken over.
    static let claimStaleAfter = Duration.seconds(10)
    /// How long past its deadline an attempt may run before the worker ends it: room for an operator
    /// that honours the deadline to report its own timeout first.
    public static let deadlineGrace = Duration.milliseconds(500)

    /// Store and bus calls of `handle`: tried again while the store or the broker is away (each is a
    /// read, an idempotent write or a publish under a deterministic id), reported as this worker waiting.
    private func persistently<T: Sendable>(_ what: String, _ operation: () async throws -> T) async throws -> T {
        try await runtime.persistently(options.name, what, operation)
    }

    private func publishPersistently(_ event: CloudEvent, to topic: String, key: String) async throws {
        try await runtime.publishPersistently(options.name, event, to: topic, key: key)
    }

    func handle(_ record: BusRecord, slot: Int) async throws {
        let dispatch: TaskDispatch
        let redrive: Bool
        let trace: TraceContext?
        do {
            let event = try CloudEvent(record)
            guard event.type == EventType.taskDispatched else {
                try await runtime.deadLetterPersistently(record, component: options.name, reason: "unexpected event type `\(event.type)` on \(record.topic)")
                return
            }
            dispatch = try WireCodec.decodeDispatch(event)
            // A dead letter resubmitted after a fix runs again even though its attempt has a result.
            redrive = event.extensions[DeadLetters.redriveExtension] != nil
            // The run's trace, from the command: the attempt's events, calls and span are its work.
            trace = event.traceContext
        } catch let error as EventDecodingError {
            try await runtime.deadLetterPersistently(record, component: options.name, reason: error.description)
            return
        } catch let error as WireError {
            try await runtime.deadLetterPersistently(record, component: options.name, reason: error.description)
            return
        }
        let attempt = dispatch.attempt
        let workerID = claimant(slot: slot)
        // A command can arrive twice (a redelivery after a crash or a rebalance, an outbox republished
        // by a restarted coordinator). An attempt that finished is answered with its recorded result;
        // one that another live worker is running is waited for; one whose worker died is taken over.
        var start = ExecutionLogSink.Start.claimed(worker: workerID)
        claiming: while true {
            let claim = try await persistently("claiming \(attempt)") {
                try await runtime.store.claim(attempt, worker: workerID, now: runtime.clock.now, staleAfter: Self.claimStaleAfter)
            }
            switch claim {
            case .finished(let recorded) where !redrive:
                runtime.logger.info("attempt \(attempt) already finished; republishing its result")
                try await publishPersistently(try CloudEvent(structuredJSON: recorded), to: runtime.topics.taskResults, key: attempt.runID)
                return
            case .finished:
                start = .redriven(worker: workerID)
                break claiming
            case .claimed:
                break claiming
            case .heldElsewhere:
                try await runtime.clock.sleep(for: Self.claimHeartbeat)
            }
        }
        runtime.health.hold(options.name, attempt)
        defer { runtime.health.release(options.name, attempt) }
        // Deadline and renewals count from the claim, not from when their tasks get to run.
        let claimedAt = runtime.clock.now
        let deadline = AttemptDeadline(start: claimedAt, limit: dispatch.timeout ?? options.defaultTimeout)
        // Published while the attempt runs, not before: the claim is what guards the effect, and the
        // result waits for this publish below, so `started` still comes first on the run's partition.
        // One durable write fewer between two tasks of a slot.
        async let started: Void = publishResult(.taskStarted(attempt, worker: workerID), id: "started/\(attempt)/\(workerID)", trace: trace)

        let logStart = start
        let execution = Task { await self.execute(dispatch, deadline: deadline, trace: trace, log: logStart) }
        let takenOver = TakeOver()
        let heartbeat = Task { await renewClaim(attempt, workerID: workerID, claimedAt: claimedAt, redrive: redrive, execution: execution, takenOver: takenOver) }
        defer { heartbeat.cancel() }
        let outcome = await execution.value
        if takenOver.happened {
            // Another worker holds the claim now (this one could not renew it in time) and runs the
            // attempt: its result is the one that counts. The record's effect is that worker's.
            runtime.logger.warning("attempt \(attempt) was taken over by another worker while this one could not renew its claim; leaving it to that worker")
            return
        }
        let result: EngineEvent
        var emitted: [EmittedEvent] = []
        switch outcome {
        case .success(let r):
            result = .taskSucceeded(attempt, TaskSuccess(output: r.output, warnings: r.warnings, skipped: r.skipReason))
            emitted = r.events
        case .failure(let error) where error.category == .timeout && dispatch.timeout != nil && deadline.hasPassed(on: runtime.clock):
            result = .taskTimedOut(attempt)
            emitted = error.events
        case .failure(let error):
            result = .taskFailed(attempt, TaskFailure(message: error.message, retryable: error.retryable, category: error.code))
            emitted = error.events
        }
        try await started
        for e in emitted { try await publishEmitted(e, dispatch: dispatch, trace: trace) }
        runtime.metrics.attemptFinished(
            component: options.name, queue: options.role.queue.rawValue, outcome: Self.outcomeLabel(result),
            seconds: runtime.clock.now.timeIntervalSince(claimedAt))
        let (type, data) = WireCodec.encode(result)
        let event = runtime.event(id: "result/\(attempt)", component: options.name, type: type, subject: attempt.description, data: data)
            .traced(trace, spanID: TraceContext.spanID(of: attempt))
        runtime.spans.export(AttemptSpan.span(of: dispatch, trace: trace, result: result, worker: workerID, start: claimedAt, end: runtime.clock.now))
        // Stored before it is published or the command committed: a redelivered command is then
        // answered with it, and the attempt never runs twice for want of a record of its end. (The
        // claim keeps being renewed meanwhile, so no other worker takes the attempt over.)
        try await persistently("recording the result of \(attempt)") {
            try await runtime.store.recordAttemptResult(attempt, eventJSON: event.structuredJSON, at: runtime.clock.now)
        }
        // Final when the engine gave this try no successor, or when the error itself asks for none
        // (the meaning of `retryable: false` on the wire, which the engine honours).
        if options.role == .notifier, case .failure(let error) = outcome, dispatch.isLastTry || !error.retryable {
            try await runtime.deadLetterPersistently(record, component: options.name, reason: "notification gave up after its retry budget: \(error)")
        }
        try await publishPersistently(event, to: runtime.topics.taskResults, key: attempt.runID)
    }

    /// The `outcome` label of an attempt's result.
    static func outcomeLabel(_ result: EngineEvent) -> String {
        switch result {
        case .taskSucceeded: "succeeded"
        case .taskTimedOut: "timed_out"
        default: "failed"
        }
    }

    /// Renews the attempt's claim every heartbeat while it runs, and stops it when the engine no
    /// longer waits for it or another worker took the claim over. A store that is away does not end
    /// the renewals: they go on once it answers (reported once, not per beat).
    private func renewClaim(
        _ attempt: AttemptID, workerID: String, claimedAt: Date, redrive: Bool,
        execution: Task<Result<OperatorResult, OperatorError>, Never>, takenOver: TakeOver
    ) async {
        let beat = Self.claimHeartbeat.timeInterval
        var renewal = claimedAt.addingTimeInterval(beat)
        var outage: ComponentHealth.WaitToken?
        defer { if let outage { runtime.health.endWait(outage, recovered: false, logger: runtime.logger) } }
        while !Task.isCancelled {
            do { try await runtime.clock.sleep(until: renewal) } catch { return }
            do {
                let claim = try await runtime.store.claim(attempt, worker: workerID, now: runtime.clock.now, staleAfter: Self.claimStaleAfter)
                if let token = outage {
                    runtime.health.endWait(token, recovered: true, logger: runtime.logger)
                    outage = nil
                }
                if claim == .heldElsewhere {
                    takenOver.mark()
                    execution.cancel()
                    return
                }
                // The run was cancelled or the attempt timed out meanwhile: its result no longer counts.
                // (A redriven dead letter belongs to a finished run on purpose: it runs to the end.)
                if !redrive, try await runtime.store.isAbandoned(attempt) {
                    runtime.logger.info("attempt \(attempt) was abandoned; stopping it")
                    execution.cancel()
                    return
                }
            } catch {
                // Every renewal is a store call: whatever failed, the next heartbeat tries again.
                let detail = "renewing the claim of \(attempt): \(error)"
                if let outage { runtime.health.updateWait(outage, detail: detail) } else {
                    outage = runtime.health.beginWait(options.name, on: .stateStore, detail: detail, logger: runtime.logger)
                }
            }
            // One heartbeat after this renewal was due; after a stall (or a jump of the clock), one from now.
            let now = runtime.clock.now
            renewal = renewal.addingTimeInterval(beat) > now ? renewal.addingTimeInterval(beat) : now.addingTimeInterval(beat)
        }
    }

    /// Runs the operator, ending it at the attempt's deadline even if it does not notice.
    private func execute(
        _ dispatch: TaskDispatch, deadline: AttemptDeadline, trace: TraceContext?, log start: ExecutionLogSink.Start
    ) async -> Result<OperatorResult, OperatorError> {
        let timeout = deadline.limit
        var traced = OperatorContext(
            dagID: dispatch.dagID, runID: dispatch.attempt.runID, taskID: dispatch.attempt.taskID,
            tryNumber: dispatch.attempt.tryNumber, logicalDate: dispatch.logicalDate, params: dispatch.params,
            conf: dispatch.conf, upstream: dispatch.inputs, variables: runtime.config.variables,
            connections: runtime.config.connections, deadline: deadline.budget, dataDirectory: options.dataDirectory,
            reportsDirectory: options.reportsDirectory, now: runtime.clock.now, logger: runtime.logger,
            log: TaskLog(attempt: dispatch.attempt, sink: ExecutionLogSink(store: runtime.store, start: start), limits: options.taskLog))
        traced.traceparent = trace?.traceparent(spanID: TraceContext.spanID(of: dispatch.attempt))
        traced.tracestate = trace?.tracestate
        let context = traced
        let clock = runtime.clock
        let registry = self.registry
        let outcome = await withTaskGroup(of: Result<OperatorResult, OperatorError>?.self) { group in
            group.addTask { await registry.run(dispatch.operator, context) }
            group.addTask {
                try? await clock.sleep(until: deadline.at.addingTimeInterval(Self.deadlineGrace.timeInterval))
                return Task.isCancelled ? nil : .failure(OperatorError(.timeout, "attempt ran past its \(DurationText.format(timeout)) timeout", retryable: true))
            }
            defer { group.cancelAll() }
            while let next = await group.next() {
                if let next { return next }
            }
            return .failure(OperatorError(.cancelled, "attempt cancelled", retryable: true))
        }
        // The attempt's last log lines are stored before its result, so a follower that sees the
        // attempt end has every line.
        _ = await context.log.finish()
        return outcome
    }

    private func publishResult(_ result: EngineEvent, id: String, trace: TraceContext?) async throws {
        let (type, data) = WireCodec.encode(result)
        var event = runtime.event(id: id, component: options.name, type: type, subject: WireCodec.key(for: result), data: data)
        if case .taskStarted(let attempt, _) = result { event.setTrace(trace, spanID: TraceContext.spanID(of: attempt)) }
        try await publishPersistently(event, to: runtime.topics.taskResults, key: WireCodec.key(for: result))
    }

    /// Health results and trained models, with the attempt's identity so subscribers need not call back.
    private func publishEmitted(_ emitted: EmittedEvent, dispatch: TaskDispatch, trace: TraceContext?) async throws {
        var data = emitted.data.objectValue ?? ["value": emitted.data]
        data["dag_id"] = .string(dispatch.dagID)
        data["run_id"] = .string(dispatch.attempt.runID)
        data["task_id"] = .string(dispatch.attempt.taskID)
        data["logical_date"] = .string(ISO8601.format(dispatch.logicalDate))
        let type = emitted.kind.eventType
        let key = switch emitted.kind {
        case .healthResult: emitted.subject ?? data["service"]?.stringValue ?? dispatch.attempt.taskID
        case .modelTrained: data["model_type"]?.stringValue ?? "model"
        }
        let event = runtime.event(
            id: "\(type)/\(dispatch.attempt)/\(emitted.subject ?? "")", component: options.name, type: type,
            subject: emitted.subject, data: .object(data)).traced(trace, spanID: TraceContext.spanID(of: dispatch.attempt))
        try await publishPersistently(event, to: emitted.kind.topic(in: runtime.topics), key: key)
    }
}

/// Set by the claim's renewals when another worker took the attempt over. @unchecked: `taken` is
/// only touched with `lock` held.
private final class TakeOver: @unchecked Sendable {
    private let lock = NSLock()
    private var taken = false
    func mark() { lock.withLock { taken = true } }
    var happened: Bool { lock.withLock { taken } }
}
