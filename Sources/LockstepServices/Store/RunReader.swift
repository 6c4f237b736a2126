import Foundation
import LockstepCore
import LockstepDrivers
import Logging

/// Which runs a runs list shows: all, or those of one DAG, in some states, of some triggers, with a
/// logical date in a range.
public struct RunFilter: Sendable, Hashable {
    public var dagID: String?
    public var states: [RunState]
    public var triggers: [String]
    public var logicalFrom: Date?
    public var logicalTo: Date?

    public init(dagID: String? = nil, states: [RunState] = [], triggers: [String] = [], logicalFrom: Date? = nil, logicalTo: Date? = nil) {
        self.dagID = dagID
        self.states = states
        self.triggers = triggers
        self.logicalFrom = logicalFrom
        self.logicalTo = logicalTo
    }
}

/// Paged, filtered reads of the runs the coordinator keeps in the state store (`lockstep_runs`):
/// newest first, continuing below a sequence number, so a page costs the same with 10 runs or
/// 10,000 (migration 5 indexes `sequence` and `state, sequence` for exactly these reads).
///
/// Beside `StateStore`, not in it: the API's reads get a connection and a thread of their own, so a
/// page never waits behind the coordinator's commits in the same process (`lockstep standalone`),
/// and on PostgreSQL the same reconnecting connection as the store.
public actor RunReader {
    private let executor: DedicatedThreadExecutor
    private let db: any SQLDatabase
    private let decoder = JSONValueDecoder()
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Opens its connection; the schema must be migrated already (any component's store does it).
    public init(_ location: StoreLocation, logger: Logger = Logger(label: "lockstep.runs.reader")) async throws {
        executor = DedicatedThreadExecutor(name: "lockstep-run-reader")
        let monitor = StoreHealthMonitor(store: location.description, logger: logger)
        let opened = try await BlockingThread.run(name: "lockstep-run-reader-open") { () throws -> ReaderDatabase in
            ReaderDatabase(db: try StoreSchema.open(location, health: monitor))
        }
        db = opened.db
    }

    public func close() {
        db.close()
        executor.stop()
    }

    /// Up to `limit` runs matching `filter` with a sequence below `before`, and the cursor position for
    /// the next page (nil on the last).
    public func runs(_ filter: RunFilter, before: Int64?, limit: Int) throws -> (runs: [DagRun], next: Int64?) {
        var clauses: [String] = []
        var parameters: [SQLValue] = []
        if let dag = filter.dagID {
            parameters.append(.text(dag))
            clauses.append("dag_id = $\(parameters.count)")
        }
        if !filter.states.isEmpty {
            let marks = filter.states.map { state -> String in
                parameters.append(.text(state.rawValue))
                return "$\(parameters.count)"
            }
            clauses.append("state IN (\(marks.joined(separator: ", ")))")
        }
        let needsBodyFilter = !filter.triggers.isEmpty || filter.logicalFrom != nil || filter.logicalTo != nil
        var found: [DagRun] = []
        var below = before ?? Int64.max
        // Filters on the JSON body are applied after decoding; read in batches until the page is full.
        let batch = needsBodyFilter ? max(200, limit * 4) : limit + 1
        while true {
            var sql = "SELECT sequence, body FROM lockstep_runs WHERE sequence < $\(parameters.count + 1)"
            for clause in clauses { sql += " AND " + clause }
            sql += " ORDER BY sequence DESC LIMIT $\(parameters.count + 2)"
            let rows = try db.query(sql, parameters + [.int(below), .int(Int64(batch))])
            for row in rows {
                let run = try decoder.decode(DagRun.self, from: Array((row[1] ?? "").utf8))
                below = Int64(row[0] ?? "") ?? below
                guard matches(run, filter) else { continue }
                if found.count == limit { return (found, Int64(found[limit - 1].sequence)) }
                found.append(run)
            }
            if rows.count < batch { return (found, nil) }
        }
    }

    private func matches(_ run: DagRun, _ filter: RunFilter) -> Bool {
        if !filter.triggers.isEmpty && !filter.triggers.contains(run.trigger.label) { return false }
        if let from = filter.logicalFrom, run.logicalDate < from { return false }
        if let to = filter.logicalTo, run.logicalDate > to { return false }
        return true
    }

    /// The newest `limit` runs of a DAG as (run id, state, logical date) — the DAG list's squares.
    public func latest(dagID: String, limit: Int) throws -> [(id: String, state: String)] {
        try db.query("SELECT run_id, state FROM lockstep_runs WHERE dag_id = $1 ORDER BY sequence DESC LIMIT $2", .text(dagID), .int(Int64(limit)))
            .map { ($0[0] ?? "", $0[1] ?? "") }
    }

    public func ping() throws { try db.query("SELECT 1", []) }
}

/// Hands the opened connection from the opening thread to the actor.
private struct ReaderDatabase: @unchecked Sendable {
    // @unchecked: created on the opening thread and used only by `RunReader`'s executor afterwards;
    // nothing else keeps a reference.
    let db: any SQLDatabase
}
