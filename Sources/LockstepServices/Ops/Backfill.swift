import Foundation
import LockstepCore

/// One run per schedule interval in a range, with the ids the scheduler would give them
/// (`dag@logical-date`), so an interval that already ran is not run twice. Max active runs holds:
/// the coordinator queues what the DAG's limit does not allow yet.
public enum Backfill {
    public static func logicalDates(_ dag: DagSpec, from: Date, to: Date, limit: Int = 10_000) throws -> [Date] {
        guard let text = dag.schedule else {
            throw OpsError("DAG `\(dag.id)` has no schedule; trigger it with `lockstep trigger` instead")
        }
        guard let zone = TimeZone(identifier: dag.timezone) else { throw OpsError("DAG `\(dag.id)` has an unknown time zone") }
        let schedule = try CronSchedule(text, timeZone: zone)
        // Firings at or after `from` and at or before `to`.
        return schedule.fireTimes(after: from.addingTimeInterval(-0.001), through: to, limit: limit)
    }

    public static func requests(_ dag: DagSpec, from: Date, to: Date) throws -> [RunRequest] {
        try logicalDates(dag, from: from, to: to).map {
            RunRequest(runID: .scheduled(dagID: dag.id, logicalDate: $0), dagID: dag.id, logicalDate: $0, trigger: .backfill)
        }
    }
}

/// A problem with an ops action a user can fix.
public struct OpsError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
