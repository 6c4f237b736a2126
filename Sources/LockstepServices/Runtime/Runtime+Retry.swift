import Foundation
import LockstepBus
import LockstepCore
import ServiceLifecycle

extension Runtime {
    /// How long a bus call may go unanswered before its component reports that it waits for the
    /// broker. librdkafka keeps trying underneath for minutes (`message.timeout.ms`), so a frozen or
    /// unreachable broker shows up as a call that does not return, not as an error.
    static let brokerPatience = Duration.seconds(5)

    /// Runs `operation` until it succeeds, backing off (100 ms doubling to 5 s, in real time: outages
    /// end in real time, whatever clock the components live by) while it fails in a way trying again
    /// may fix. Throws at once an error retrying cannot fix, and `CancellationError` when the task is
    /// cancelled or the service group shuts down meanwhile: the caller then commits nothing it did
    /// not finish.
    ///
    /// Only for operations that may run more than once: reads, idempotent writes (the store's
    /// upserts, the recorded result), publishes of events with deterministic ids.
    func persistently<T: Sendable>(_ component: String, _ what: String, _ operation: () async throws -> T) async throws -> T {
        var failures = 0
        var token: ComponentHealth.WaitToken?
        while true {
            do {
                let value = try await operation()
                if let token { health.endWait(token, recovered: true, logger: logger) }
                return value
            } catch {
                guard let dependency = TransientFailure.dependency(of: error) else {
                    if let token { health.endWait(token, recovered: false, logger: logger) }
                    throw error
                }
                failures += 1
                let detail = "\(what): \(error)"
                if let token { health.updateWait(token, detail: detail) } else {
                    token = health.beginWait(component, on: dependency, detail: detail, logger: logger)
                }
                do {
                    if Task.isShuttingDownGracefully { throw CancellationError() }
                    try await Task.sleep(for: ReconnectPolicy.standard.jitteredDelay(afterFailures: failures))
                } catch {
                    if let token { health.endWait(token, recovered: false, logger: logger) }
                    throw CancellationError()
                }
            }
        }
    }

    /// Runs a bus call, reporting `component` as waiting for the broker while the call stays
    /// unanswered past `brokerPatience` (and logging when it answers again).
    func watchingBroker<T: Sendable>(_ component: String, _ what: String, _ operation: () async throws -> T) async throws -> T {
        let health = self.health, logger = self.logger
        let watch = Task { () -> ComponentHealth.WaitToken? in
            do { try await Task.sleep(for: Self.brokerPatience) } catch { return nil }
            return health.beginWait(
                component, on: .broker, detail: "\(what): no answer for \(DurationText.format(Self.brokerPatience)) or more", logger: logger)
        }
        do {
            let value = try await operation()
            watch.cancel()
            if let token = await watch.value { health.endWait(token, recovered: true, logger: logger) }
            return value
        } catch {
            watch.cancel()
            if let token = await watch.value { health.endWait(token, recovered: false, logger: logger) }
            throw error
        }
    }

    /// Publishes one event until the broker has it (`persistently`, watched): for events with
    /// deterministic ids, which consumers drop when they come twice.
    func publishPersistently(_ component: String, _ event: CloudEvent, to topic: String, key: String) async throws {
        try await persistently(component, "publishing \(event.type) to \(topic)") {
            try await watchingBroker(component, "publishing \(event.type) to \(topic)") {
                try await publish(event, to: topic, key: key)
            }
        }
    }

    /// `deadLetter`, until the broker has it (its id is the original record's position).
    func deadLetterPersistently(_ record: BusRecord, component: String, reason: String) async throws {
        try await persistently(component, "dead-lettering \(record.position)") {
            try await watchingBroker(component, "dead-lettering \(record.position)") {
                try await deadLetter(record, component: component, reason: reason)
            }
        }
    }

    /// Subscribes, waiting for the broker if it is away.
    func subscribePersistently(_ component: String, group: String, topics: [String]) async throws -> any GroupConsumer {
        try await persistently(component, "joining group \(group)") {
            try await watchingBroker(component, "joining group \(group)") { try await bus.subscribe(group: group, topics: topics) }
        }
    }

    /// Creates the topics, waiting for the broker if it is away.
    func createTopicsPersistently(_ component: String) async throws {
        try await persistently(component, "creating topics") {
            try await watchingBroker(component, "creating topics") { try await createTopics() }
        }
    }
}
