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

        public init(
            name: String = "worker", group: String = "lockstep-workers", role: Role = .tasks, topic: String? = nil,
            concurrency: Int = 2, dataDirectory: URL, reportsDirectory: URL, defaultTimeout: Duration = .seconds(3600)
        ) {
            self.name = name
            self.group = group
            self.role = role
            self.topic = topic
            self.concurrency = concurrency
            self.dataDirectory = dataDirectory
            self.reportsDirectory = reportsDirectory
            self.defaultTimeout = defaultTimeout
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
        try await runtime.createTopics()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for slot in 0..<max(1, options.concurrency) {
                group.addTask { try await self.consume(slot: slot) }
            }
            try await group.waitForAll()
        }
    }

    private func consume(slot: Int) async throws {
        let consumer = try await runtime.bus.subscribe(group: options.group, topics: [topic])
        runtime.logger.info("\(options.name) slot \(slot) consuming \(topic)")
        do {
            for try await record in consumer.records.cancelOnGracefulShutdown() {
                try await handle(record, slot: slot)
                await runtime.commit(record.position, on: consumer)
            }
        } catch is CancellationError {}
        await consumer.close()
    }

    /// Who holds a claim: one consumer slot of this process. Per slot, not per process, because a
    /// rebalance can hand a record that one slot is still running to another slot of the same
    /// process; a claim shared by the two would let both run it.
    private func claimant(slot: Int) -> String { "\(options.name)/\(runtime.instance)/\(slot)" }

    /// How often a running attempt's claim is renewed (and its abandonment checked), on the runtime's
    /// clock; also how long a worker waits before looking again at an attempt another worker holds.
    public static let claimHeartbeat = Duration.seconds(2)
    /// How old a claim must be to be taken over.
    static let claimStaleAfter = Duration.seconds(10)
    /// How long past its deadline an attempt may run before the worker ends it: room for an operator
    /// that honours the deadline to report its own timeout first.
    public static let deadlineGrace = Duration.milliseconds(500)

    func handle(_ record: BusRecord, slot: Int) async throws {
        let dispatch: TaskDispatch
        let redrive: Bool
        do {
            let event = try CloudEvent(record)
            guard event.type == EventType.taskDispatched else {
                try await runtime.deadLetter(record, component: options.name, reason: "unexpected event type `\(event.type)` on \(record.topic)")
                return
            }
            dispatch = try WireCodec.decodeDispatch(event)
            // A dead letter resubmitted after a fix runs again even though its attempt has a result.
            redrive = event.extensions[DeadLetters.redriveExtension] != nil
        } catch let error as EventDecodingError {
            try await runtime.deadLetter(record, component: options.name, reason: error.description)
            return
        } catch let error as WireError {
            try await runtime.deadLetter(record, component: options.name, reason: error.description)
            return
        }
        let attempt = dispatch.attempt
        let workerID = claimant(slot: slot)
        // A command can arrive twice (a redelivery after a crash, an outbox republished by a restarted
        // coordinator). An attempt that finished is answered with its recorded result; one that another
        // live worker is running is waited for; one whose worker died is taken over.
        claiming: while true {
            switch try await runtime.store.claim(attempt, worker: workerID, now: runtime.clock.now, staleAfter: Self.claimStaleAfter) {
            case .finished(let recorded) where !redrive:
                runtime.logger.info("attempt \(attempt) already finished; republishing its result")
                try await runtime.publish(try CloudEvent(structuredJSON: recorded), to: runtime.topics.taskResults, key: attempt.runID)
                return
            case .finished, .claimed:
                break claiming
            case .heldElsewhere:
                try await runtime.clock.sleep(for: Self.claimHeartbeat)
            }
        }
        // Deadline and renewals count from the claim, not from when their tasks get to run.
        let claimedAt = runtime.clock.now
        let deadline = AttemptDeadline(start: claimedAt, limit: dispatch.timeout ?? options.defaultTimeout)
        try await publishResult(.taskStarted(attempt, worker: workerID), id: "started/\(attempt)/\(workerID)")

        let execution = Task { await self.execute(dispatch, deadline: deadline) }
        let heartbeat = Task {
            let beat = Self.claimHeartbeat.timeInterval
            var renewal = claimedAt.addingTimeInterval(beat)
            while !Task.isCancelled {
                try await runtime.clock.sleep(until: renewal)
                _ = try await runtime.store.claim(attempt, worker: workerID, now: runtime.clock.now, staleAfter: Self.claimStaleAfter)
                // The run was cancelled or the attempt timed out meanwhile: its result no longer counts.
                // (A redriven dead letter belongs to a finished run on purpose: it runs to the end.)
                if !redrive, try await runtime.store.isAbandoned(attempt) {
                    runtime.logger.info("attempt \(attempt) was abandoned; stopping it")
                    execution.cancel()
                    return
                }
                // One heartbeat after this renewal was due; after a stall (or a jump of the clock), one from now.
                let now = runtime.clock.now
                renewal = renewal.addingTimeInterval(beat) > now ? renewal.addingTimeInterval(beat) : now.addingTimeInterval(beat)
            }
        }
        defer { heartbeat.cancel() }
        let outcome = await execution.value
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
        for e in emitted { try await publishEmitted(e, dispatch: dispatch) }
        let (type, data) = WireCodec.encode(result)
        let event = runtime.event(id: "result/\(attempt)", component: options.name, type: type, subject: attempt.description, data: data)
        try await runtime.store.recordAttemptResult(attempt, eventJSON: event.structuredJSON, at: runtime.clock.now)
        // Final when the engine gave this try no successor, or when the error itself asks for none
        // (the meaning of `retryable: false` on the wire, which the engine honours).
        if options.role == .notifier, case .failure(let error) = outcome, dispatch.isLastTry || !error.retryable {
            try await runtime.deadLetter(record, component: options.name, reason: "notification gave up after its retry budget: \(error)")
        }
        try await runtime.publish(event, to: runtime.topics.taskResults, key: attempt.runID)
    }

    /// Runs the operator, ending it at the attempt's deadline even if it does not notice.
    private func execute(_ dispatch: TaskDispatch, deadline: AttemptDeadline) async -> Result<OperatorResult, OperatorError> {
        let timeout = deadline.limit
        let context = OperatorContext(
            dagID: dispatch.dagID, runID: dispatch.attempt.runID, taskID: dispatch.attempt.taskID,
            tryNumber: dispatch.attempt.tryNumber, logicalDate: dispatch.logicalDate, params: dispatch.params,
            conf: dispatch.conf, upstream: dispatch.inputs, variables: runtime.config.variables,
            connections: runtime.config.connections, deadline: deadline.budget, dataDirectory: options.dataDirectory,
            reportsDirectory: options.reportsDirectory, now: runtime.clock.now, logger: runtime.logger,
            log: TaskLog(attempt: dispatch.attempt, sink: runtime.store))
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

    private func publishResult(_ result: EngineEvent, id: String) async throws {
        let (type, data) = WireCodec.encode(result)
        let event = runtime.event(id: id, component: options.name, type: type, subject: WireCodec.key(for: result), data: data)
        try await runtime.publish(event, to: runtime.topics.taskResults, key: WireCodec.key(for: result))
    }

    /// Health results and trained models, with the attempt's identity so subscribers need not call back.
    private func publishEmitted(_ emitted: EmittedEvent, dispatch: TaskDispatch) async throws {
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
            subject: emitted.subject, data: .object(data))
        try await runtime.publish(event, to: emitted.kind.topic(in: runtime.topics), key: key)
    }
}
