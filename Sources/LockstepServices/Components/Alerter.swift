import Foundation
import LockstepBus
import LockstepCore
import LockstepDrivers
import LockstepWire
import ServiceLifecycle

/// Posts run and task lifecycle events to the webhooks in `alerts:` (Airflow's `email_on_failure` and
/// Slack callbacks). It is one more subscriber of `lockstep.runs.events`: it commits an event once
/// every alert it fires was delivered, or dead-lettered with the reason after its retries.
public final class Alerter: Service, Sendable {
    let runtime: Runtime
    /// Each configured alert with the webhook its URL resolved to.
    public let alerts: [(spec: AlertSpec, delivery: Delivery)]
    let group: String

    /// Resolves each alert's URL (a `{{ var.NAME }}` from the variables); throws `AlerterError` for a
    /// URL that is missing or not http(s).
    public init(runtime: Runtime, group: String = "lockstep-alerter", timeout: Duration = .seconds(10), maxAttempts: Int = 3,
                backoff: Duration = .seconds(1)) throws {
        self.runtime = runtime
        self.group = group
        var alerts: [(AlertSpec, Delivery)] = []
        for spec in runtime.config.alerts {
            let url: URL
            do { url = try spec.webhookURL(variables: runtime.config.variables) } catch {
                throw AlerterError("alert `\(spec.name)`: \(error)")
            }
            alerts.append((spec, Delivery(url: url, timeout: timeout, maxAttempts: maxAttempts, backoff: backoff)))
        }
        self.alerts = alerts
    }

    static let component = "alerter"

    /// Rides out a broker that is away: joining, dead-lettering and committing wait for it (the
    /// dead letter's id is the record's position, so one sent twice is one).
    public func run() async throws {
        try await runtime.withHeartbeat(Self.component, kind: .alerter) {
            try await runtime.createTopicsPersistently(Self.component)
            let consumer = try await runtime.subscribePersistently(Self.component, group: group, topics: [runtime.topics.runEvents])
            runtime.health.set(Self.component, .running)
            runtime.logger.info("alerter: \(alerts.count) alert(s) on \(runtime.topics.runEvents)")
            do {
                for try await record in consumer.records.cancelOnGracefulShutdown() {
                    try await handle(record)
                    await runtime.commit(record.position, on: consumer)
                }
            } catch is CancellationError {
            } catch {
                runtime.logger.error("alerter cannot go on: \(error)")
                await consumer.close()
                throw error
            }
            await consumer.close()
        }
    }

    func handle(_ record: BusRecord) async throws {
        let event: CloudEvent
        do { event = try CloudEvent(record) } catch {
            try await runtime.deadLetterPersistently(record, component: Self.component, reason: error.description)
            return
        }
        guard event.type.hasPrefix("lockstep."), let kind = LifecycleEvent.Kind(rawValue: String(event.type.dropFirst(9))),
              let dagID = event.data?["dag_id"]?.stringValue
        else { return }  // not a lifecycle event: nothing to tell
        for (spec, delivery) in alerts where spec.fires(for: kind, dagID: dagID) {
            do {
                try await delivery.post(Self.payload(event, kind: kind, alert: spec.name), key: "\(spec.name):\(event.id)", logger: runtime.logger)
                runtime.logger.info("alert \(spec.name): \(event.type) \(event.subject ?? "")")
            } catch {
                try await runtime.deadLetterPersistently(record, component: Self.component, reason: "alert `\(spec.name)` was not delivered: \(error)")
            }
        }
    }

    /// A Slack-compatible `text` line plus the event itself, so a receiver need not call back.
    static func payload(_ event: CloudEvent, kind: LifecycleEvent.Kind, alert: String) -> JSONValue {
        let data = event.data ?? .emptyObject
        let dag = data["dag_id"]?.stringValue ?? "?"
        let run = data["run_id"]?.stringValue ?? "?"
        var text = "Lockstep: \(kind.rawValue.replacingOccurrences(of: ".", with: " ")) — DAG \(dag), run \(run)"
        if let task = data["task_id"]?.stringValue {
            text += ", task \(task)"
            if let tryNumber = data["try_number"]?.intValue { text += " (try \(tryNumber))" }
        }
        if let cause = data["reason"]?.stringValue ?? data["error"]?["message"]?.stringValue { text += ": \(cause)" }
        if let logical = data["logical_date"]?.stringValue { text += " [logical date \(logical)]" }
        return [
            "text": .string(text), "alert": .string(alert),
            "event": ["id": .string(event.id), "type": .string(event.type), "source": .string(event.source),
                      "time": event.time.map { .string(ISO8601.format($0)) } ?? .null, "data": data],
        ]
    }
}

public struct AlerterError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
