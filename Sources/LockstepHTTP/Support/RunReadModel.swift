import Foundation
import LockstepCore
import LockstepDrivers
import LockstepServices

/// Paged, filtered reads of the runs the coordinator keeps in the state store (`lockstep_runs`):
/// newest first, continuing below a sequence number, so a page costs the same with 10 runs or
/// 10,000. `StateStore.runs(dagID:limit:)` has no cursor or filters; this should become a store
/// method once the store's schema is versioned, and read the same table.
actor RunReadModel {
    private let executor: DedicatedThreadExecutor
    private let db: any SQLDatabase
    private let decoder = JSONDecoder()
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    struct Filter: Sendable {
        var dagID: String?
        var states: [RunState] = []
        var triggers: [String] = []
        var logicalFrom: Date?
        var logicalTo: Date?
    }

    init(_ location: StoreLocation) throws {
        executor = DedicatedThreadExecutor(name: "lockstep-api-runs")
        db = try APIDatabase.open(location)
    }

    func close() {
        db.close()
        executor.stop()
    }

    /// Up to `limit` runs matching `filter` with a sequence below `before`, and the cursor position for
    /// the next page (nil on the last).
    func runs(_ filter: Filter, before: Int64?, limit: Int) throws -> (runs: [DagRun], next: Int64?) {
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
                let run = try decoder.decode(DagRun.self, from: Data((row[1] ?? "").utf8))
                below = Int64(row[0] ?? "") ?? below
                guard matches(run, filter) else { continue }
                if found.count == limit { return (found, Int64(found[limit - 1].sequence)) }
                found.append(run)
            }
            if rows.count < batch { return (found, nil) }
        }
    }

    private func matches(_ run: DagRun, _ filter: Filter) -> Bool {
        if !filter.triggers.isEmpty && !filter.triggers.contains(run.trigger.label) { return false }
        if let from = filter.logicalFrom, run.logicalDate < from { return false }
        if let to = filter.logicalTo, run.logicalDate > to { return false }
        return true
    }

    /// The newest `limit` runs of a DAG as (run id, state, logical date) — the DAG list's squares.
    func latest(dagID: String, limit: Int) throws -> [(id: String, state: String)] {
        try db.query("SELECT run_id, state FROM lockstep_runs WHERE dag_id = $1 ORDER BY sequence DESC LIMIT $2", .text(dagID), .int(Int64(limit)))
            .map { ($0[0] ?? "", $0[1] ?? "") }
    }

    func ping() throws { try db.query("SELECT 1", []) }
}
