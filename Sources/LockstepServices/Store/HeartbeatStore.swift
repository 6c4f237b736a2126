import Foundation
import LockstepCore

/// What one component process last wrote about itself into `lockstep_heartbeats`.
public struct ComponentHeartbeat: Sendable, Hashable, Codable {
    /// `coordinator`, `scheduler`, `alerter`, or a worker's name (`worker`, `notifier`).
    public var component: String
    public var kind: Kind
    /// The queue a worker runs; nil for the others.
    public var queue: String?
    /// The process (`coordinator-host-1234`).
    public var instance: String
    /// `running`, `standby`, `recovering`, `waiting`, `stopped`, `starting`.
    public var state: String
    /// One line: what it waits for and why, or what it is (`running: active`).
    public var detail: String
    /// Attempts it was running (`run/task#try`).
    public var holding: [String]
    public var since: Date
    /// When it wrote this.
    public var heartbeat: Date

    public enum Kind: String, Sendable, Hashable, Codable {
        case coordinator, worker, scheduler, alerter
    }

    public init(component: String, kind: Kind, queue: String?, instance: String, state: String, detail: String, holding: [String],
                since: Date, heartbeat: Date) {
        self.component = component
        self.kind = kind
        self.queue = queue
        self.instance = instance
        self.state = state
        self.detail = detail
        self.holding = holding
        self.since = since
        self.heartbeat = heartbeat
    }
}

extension StateStore {
    /// Writes (replaces) this component process's heartbeat. An upsert: safe to send again.
    public func recordHeartbeat(_ beat: ComponentHeartbeat) throws {
        try db.query(
            """
            INSERT INTO lockstep_heartbeats (component, instance, kind, queue, state, detail, holding, since_ms, heartbeat_ms)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (component, instance) DO UPDATE SET kind = excluded.kind, queue = excluded.queue, state = excluded.state,
              detail = excluded.detail, holding = excluded.holding, since_ms = excluded.since_ms, heartbeat_ms = excluded.heartbeat_ms
            """,
            .text(beat.component), .text(beat.instance), .text(beat.kind.rawValue), .text(beat.queue ?? ""), .text(beat.state),
            .text(beat.detail), .text(beat.holding.joined(separator: " ")), .int(Self.milliseconds(beat.since)),
            .int(Self.milliseconds(beat.heartbeat)))
    }

    /// Every heartbeat, newest first.
    public func heartbeats() throws -> [ComponentHeartbeat] {
        try db.query(
            "SELECT component, instance, kind, queue, state, detail, holding, since_ms, heartbeat_ms FROM lockstep_heartbeats ORDER BY heartbeat_ms DESC",
            []
        ).compactMap { row in
            guard let kind = row[2].flatMap(ComponentHeartbeat.Kind.init(rawValue:)) else { return nil }
            return ComponentHeartbeat(
                component: row[0] ?? "", kind: kind, queue: (row[3] ?? "").isEmpty ? nil : row[3], instance: row[1] ?? "",
                state: row[4] ?? "", detail: row[5] ?? "", holding: (row[6] ?? "").split(separator: " ").map(String.init),
                since: Self.date(row[7]), heartbeat: Self.date(row[8]))
        }
    }

    /// Forgets processes not heard from since `before` (each start of a component adds a row).
    public func pruneHeartbeats(before: Date) throws {
        try db.query("DELETE FROM lockstep_heartbeats WHERE heartbeat_ms < $1", .int(Self.milliseconds(before)))
    }

    private static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    private static func date(_ text: String?) -> Date { Date(timeIntervalSince1970: Double(Int64(text ?? "") ?? 0) / 1000) }
}
