import Foundation
import LockstepBus
import LockstepCore
import LockstepDrivers
import Logging

/// Durable state of the running components, in one SQL database: the engine's runs, pools and paused
/// DAGs, its timers, the coordinator's outbox, workers' finished attempts, the scheduler's last
/// ticks and the task logs. Also the read model behind `lockstep runs` and `lockstep logs`.
///
/// An actor on a thread of its own: SQLite commits wait for fsync and libpq calls block, and neither
/// may stall the cooperative pool. On PostgreSQL a lost connection is re-established underneath
/// (`PostgresDatabase`): an operation either succeeds, or fails with a retryable `StateStoreError`
/// once the database stayed away past the reconnect budget (or a COMMIT's outcome is unknown).
public actor StateStore {
    private let executor: DedicatedThreadExecutor
    let db: any SQLDatabase
    public nonisolated let location: StoreLocation
    private let monitor: StoreHealthMonitor
    let decoder = JSONValueDecoder()
    /// The connection epoch `loadEngine` read the state on: `commit` refuses to write on a later one.
    private var engineLoadedOnEpoch: Int?

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Whether the database is reachable now. Never waits for the store's thread, so a health check
    /// answers while an operation is reconnecting.
    public nonisolated var health: StoreHealth { monitor.health }

    /// Opens the store and brings its schema up to date (see `SchemaMigrator`); refuses with
    /// `StateStoreError.schemaTooNew` a database migrated by a newer release.
    public init(_ location: StoreLocation, logger: Logger = Logger(label: "lockstep.state"), reconnect: ReconnectPolicy = .standard) async throws {
        self.location = location
        executor = DedicatedThreadExecutor(name: "lockstep-state")
        let monitor = StoreHealthMonitor(store: location.description, logger: logger)
        self.monitor = monitor
        // Connecting and migrating block (on the migration lock, too, while another process migrates):
        // on a thread of their own, not the caller's.
        let opened = try await BlockingThread.run(name: "lockstep-state-open") { () throws -> OpenedDatabase in
            let db = try StoreSchema.open(location, health: monitor, policy: reconnect)
            do {
                try SchemaMigrator(db: db, store: location.description).migrate()
            } catch {
                db.close()
                throw error
            }
            return OpenedDatabase(db: db)
        }
        db = opened.db
    }

    public func close() {
        db.close()
        executor.stop()
    }

    // MARK: Engine state

    /// The engine state and its armed timers, as last committed. With `finishedRunsOf`, the finished
    /// runs of only those DAGs are read (the coordinator's: the DAGs with depends_on_past, whose
    /// later runs look at them); the unfinished runs always. Nil reads every run ever stored.
    public func loadEngine(finishedRunsOf dagIDs: Set<String>? = nil) throws -> (EngineState, [TimerID: Date]) {
        var state = EngineState()
        var bodies: [[String?]]
        if let dagIDs {
            bodies = try db.query("SELECT body FROM lockstep_runs WHERE state IN ('queued', 'running')", [])
            for dagID in dagIDs.sorted() {
                bodies += try db.query(
                    "SELECT body FROM lockstep_runs WHERE dag_id = $1 AND state NOT IN ('queued', 'running')", .text(dagID))
            }
        } else {
            bodies = try db.query("SELECT body FROM lockstep_runs", [])
        }
        for row in bodies {
            let run = try decoder.decode(DagRun.self, from: Array((row[0] ?? "").utf8))
            state.runs[run.id] = run
        }
        for row in try db.query("SELECT name, value FROM lockstep_meta", []) {
            let value = Array((row[1] ?? "").utf8)
            switch row[0] {
            case "pools": state.pools = try decoder.decode([String: PoolState].self, from: value)
            case "paused": state.pausedDags = try decoder.decode(Set<String>.self, from: value)
            case "next_sequence": state.nextSequence = Int(row[1] ?? "") ?? state.runs.count
            default: break
            }
        }
        state.reindex()
        var timers: [TimerID: Date] = [:]
        for row in try db.query("SELECT body, fire_at_ms FROM lockstep_timers", []) {
            let timer = try decoder.decode(TimerID.self, from: Array((row[0] ?? "").utf8))
            timers[timer] = Date(timeIntervalSince1970: Double(Int64(row[1] ?? "") ?? 0) / 1000)
        }
        engineLoadedOnEpoch = monitor.connectionEpoch
        return (state, timers)
    }

    /// A run, pools, paused DAGs or a timer as the JSON the store keeps, through `JSONValueEncoder`
    /// (several times cheaper than `JSONEncoder`). The bytes are those `JSONEncoder` wrote with
    /// `.sortedKeys` but for `/`, no longer escaped as `\/`: rows of either kind read the same.
    static func document(_ value: some Encodable) throws -> String {
        try JSONValueEncoder().encode(value).canonicalJSON()
    }

    /// A run's document, printed directly (`DagRun.canonicalJSON()`): the same bytes as the generic
    /// path, several times cheaper, and runs are most of what the store writes.
    static func document(_ run: DagRun) -> String { run.canonicalJSON() }

    /// `document` for many runs, in one slice per core.
    static func documents(_ runs: [DagRun]) async -> [(DagRun, String)] {
        let slices = max(1, min(ProcessInfo.processInfo.activeProcessorCount, runs.count / 256))
        let size = (runs.count + slices - 1) / slices
        return await withTaskGroup(of: (Int, [(DagRun, String)]).self) { group in
            for slice in 0..<slices {
                let range = (slice * size)..<min(runs.count, (slice + 1) * size)
                group.addTask { (slice, runs[range].map { ($0, document($0)) }) }
            }
            var encoded = [[(DagRun, String)]](repeating: [], count: slices)
            for await (slice, documents) in group { encoded[slice] = documents }
            return encoded.flatMap { $0 }
        }
    }

    /// Commits one step of the coordinator in a single transaction: the runs it touched, pools and
    /// paused DAGs, timer changes and the events to publish. Returns the outbox ids of those events.
    ///
    /// After `loadEngine`, refuses with `StateStoreError.leaseMayBeLost` once the connection has been
    /// re-established: the coordinator lease is a session lock that a database restart ends, and a
    /// standby may hold it now. Checked inside the transaction, so a run of it on a new connection
    /// (after a lost COMMIT) is refused too.
    @discardableResult
    public func commit(
        state: EngineState, touched: Set<RunID>, timersSet: [TimerID: Date], timersCleared: Set<TimerID>,
        outbox: [OutboxEntry], deleteOutbox: [Int64] = []
    ) throws -> [Int64] {
        let runs = touched.sorted().compactMap { id in state.runs[id].map { ($0, Self.document($0)) } }
        let pools = try Self.document(state.pools)
        let paused = try Self.document(state.pausedDags)
        let timerBodies = try timersSet.keys.sorted().map { ($0, try Self.document($0)) }
        return try db.transaction {
            if let loaded = engineLoadedOnEpoch, monitor.connectionEpoch != loaded {
                throw StateStoreError.leaseMayBeLost(store: location.description)
            }
            try deleteSent(deleteOutbox)
            return try write(runs: runs, meta: [("pools", pools), ("paused", paused), ("next_sequence", String(state.nextSequence))],
                      timers: timerBodies.map { ($0.0, $0.1, timersSet[$0.0]!) }, timersCleared: timersCleared, outbox: outbox)
        }
    }

    /// The writes of `commit`, inside the caller's transaction.
    private func write(
        runs: [(DagRun, String)], meta: [(String, String)], timers: [(TimerID, String, Date)], timersCleared: Set<TimerID>,
        outbox: [OutboxEntry]
    ) throws -> [Int64] {
            for (run, body) in runs {
                try db.query(
                    "INSERT INTO lockstep_runs (run_id, dag_id, state, sequence, body) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (run_id) DO UPDATE SET state = excluded.state, body = excluded.body",
                    .text(run.id), .text(run.dagID), .text(run.state.rawValue), .int(Int64(run.sequence)), .text(body))
            }
            for (name, value) in meta {
                try db.query(
                    "INSERT INTO lockstep_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    .text(name), .text(value))
            }
            for timer in timersCleared.sorted() {
                try db.query("DELETE FROM lockstep_timers WHERE timer_id = $1", .text(timer.description))
            }
            for (timer, body, fireAt) in timers {
                let at = Int64((fireAt.timeIntervalSince1970 * 1000).rounded())
                try db.query(
                    "INSERT INTO lockstep_timers (timer_id, body, fire_at_ms) VALUES ($1, $2, $3) ON CONFLICT (timer_id) DO UPDATE SET fire_at_ms = excluded.fire_at_ms",
                    .text(timer.description), .text(body), .int(at))
            }
            var ids: [Int64] = []
            for entry in outbox {
                let rows = try db.query(
                    "INSERT INTO lockstep_outbox (topic, record_key, event) VALUES ($1, $2, $3) RETURNING id",
                    .text(entry.topic), .text(entry.key), .text(entry.eventJSON))
                ids.append(Int64(rows.first?[0] ?? "") ?? 0)
            }
            return ids
    }

    // MARK: Outbox

    public func pendingOutbox(limit: Int = 1000) throws -> [(id: Int64, entry: OutboxEntry)] {
        try db.query("SELECT id, topic, record_key, event FROM lockstep_outbox ORDER BY id LIMIT $1", .int(Int64(limit))).map {
            (Int64($0[0] ?? "") ?? 0, try OutboxEntry(topic: $0[1] ?? "", key: $0[2] ?? "", eventJSON: $0[3] ?? ""))
        }
    }

    public func markSent(_ ids: [Int64]) throws {
        try db.transaction { try deleteSent(ids) }
    }

    private func deleteSent(_ ids: [Int64]) throws {
        guard let first = ids.min(), let last = ids.max() else { return }
        if ids.count == Int(last - first + 1) {
            try db.query("DELETE FROM lockstep_outbox WHERE id >= $1 AND id <= $2", .int(first), .int(last))
        } else {
            for id in ids { try db.query("DELETE FROM lockstep_outbox WHERE id = $1", .int(id)) }
        }
    }

    // MARK: Read model

    public func runs(dagID: String? = nil, limit: Int = 100) throws -> [DagRun] {
        let rows = try dagID.map {
            try db.query("SELECT body FROM lockstep_runs WHERE dag_id = $1 ORDER BY sequence DESC LIMIT $2", .text($0), .int(Int64(limit)))
        } ?? db.query("SELECT body FROM lockstep_runs ORDER BY sequence DESC LIMIT $1", .int(Int64(limit)))
        return try rows.map { try decoder.decode(DagRun.self, from: Array(($0[0] ?? "").utf8)) }
    }

    /// Which of these runs the store has: the coordinator's answer to "was this id used?" for runs
    /// its engine forgot. One indexed query per `storedRunsChunk` ids.
    ///
    /// Each chunk's list is padded to a power of two (its last id repeated, which changes no answer):
    /// every distinct number of placeholders is a statement of its own, and the SQLite connection
    /// keeps each statement it prepared. With one shape per count, a backfill's bursts left hundreds
    /// of them there, each as large as its list, for good; now there are at most ten.
    public func storedRuns(among ids: Set<RunID>) throws -> Set<RunID> {
        var found: Set<RunID> = []
        let sorted = ids.sorted()
        for start in stride(from: 0, to: sorted.count, by: Self.storedRunsChunk) {
            let chunk = sorted[start..<min(start + Self.storedRunsChunk, sorted.count)]
            let width = Self.placeholderWidth(chunk.count)
            var values = chunk.map { SQLValue.text($0) }
            values += repeatElement(values[values.count - 1], count: width - chunk.count)
            let placeholders = (1...width).map { "$\($0)" }.joined(separator: ", ")
            for row in try db.query("SELECT run_id FROM lockstep_runs WHERE run_id IN (\(placeholders))", values) {
                if let id = row[0] { found.insert(id) }
            }
        }
        return found
    }

    /// The statements the SQLite connection keeps prepared (nil on PostgreSQL): what a query whose
    /// text varies with its input would make grow.
    func preparedStatementCount() -> Int? { (db as? SQLiteDatabase)?.preparedStatementCount }

    /// Ids per `storedRuns` query.
    static let storedRunsChunk = 512

    /// The placeholders a list of `count` (1...`storedRunsChunk`) ids is padded to: the next power of two.
    static func placeholderWidth(_ count: Int) -> Int {
        precondition(count > 0 && count <= storedRunsChunk)
        return 1 << (Int.bitWidth - (count - 1).leadingZeroBitCount)
    }

    public func run(_ id: RunID) throws -> DagRun? {
        try db.query("SELECT body FROM lockstep_runs WHERE run_id = $1", .text(id)).first.map {
            try decoder.decode(DagRun.self, from: Array(($0[0] ?? "").utf8))
        }
    }

    public func pausedDags() throws -> Set<String> {
        guard let value = try db.query("SELECT value FROM lockstep_meta WHERE name = 'paused'", []).first?[0] else { return [] }
        return try decoder.decode(Set<String>.self, from: Array(value.utf8))
    }

    // MARK: Workers

    /// The result event a worker recorded for an attempt it finished, so a redelivered command is
    /// answered with it instead of running the attempt again.
    public func attemptResult(_ attempt: AttemptID) throws -> String? {
        try db.query("SELECT event FROM lockstep_attempts WHERE attempt_id = $1", .text(attempt.description)).first?[0]
    }

    public func recordAttemptResult(_ attempt: AttemptID, eventJSON: String, at: Date) throws {
        try db.query(
            "INSERT INTO lockstep_attempts (attempt_id, event, recorded_at_ms) VALUES ($1, $2, $3) ON CONFLICT (attempt_id) DO NOTHING",
            .text(attempt.description), .text(eventJSON), .int(Int64(at.timeIntervalSince1970 * 1000)))
    }

    /// True when the engine no longer waits for this attempt (its run ended, or it timed out and a
    /// later try took its place). Unknown runs are not abandoned: the coordinator may not have
    /// committed them yet.
    public func isAbandoned(_ attempt: AttemptID) throws -> Bool {
        guard let run = try run(attempt.runID), let task = run.tasks[attempt.taskID] else { return false }
        return run.state != .running || task.tryNumber != attempt.tryNumber || !task.state.isInFlight
    }

    /// What a worker may do with an attempt it received.
    public enum AttemptClaim: Sendable, Equatable {
        /// It finished before: here is its recorded result event.
        case finished(resultJSON: String)
        /// It is this worker's to run (new, or its previous worker stopped renewing the claim).
        case claimed
        /// Another worker renewed its claim within `staleAfter`: it is alive and running it.
        case heldElsewhere
    }

    /// Looks for the attempt's recorded result, else claims it for `worker` (or renews its claim).
    public func claim(_ attempt: AttemptID, worker: String, now: Date, staleAfter: Duration) throws -> AttemptClaim {
        if let recorded = try attemptResult(attempt) { return .finished(resultJSON: recorded) }
        let nowMs = Int64(now.timeIntervalSince1970 * 1000)
        let sql = """
            INSERT INTO lockstep_claims (attempt_id, worker, heartbeat_ms) VALUES ($1, $2, $3)
            ON CONFLICT (attempt_id) DO UPDATE SET worker = excluded.worker, heartbeat_ms = excluded.heartbeat_ms
            WHERE lockstep_claims.worker = excluded.worker OR lockstep_claims.heartbeat_ms < $4
            RETURNING worker
            """
        let parameters: [SQLValue] = [.text(attempt.description), .text(worker), .int(nowMs), .int(nowMs - staleAfter.milliseconds)]
        // A claim is worth no fsync: after a crash it only has to go stale, which a lost one already is.
        let rows = try transactionWithoutSync { try db.query(sql, parameters) }
        return rows.isEmpty ? .heldElsewhere : .claimed
    }

    /// `body` in a transaction whose COMMIT does not wait for the disk: for writes that a crash of the
    /// machine may lose without harm, or that a later durable commit makes durable (SQLite syncs the
    /// WAL as a whole, PostgreSQL flushes its WAL in order). A kill -9 of this process loses nothing
    /// that committed either way.
    func transactionWithoutSync<T>(_ body: () throws -> T) throws -> T {
        switch db.dialect {
        case .sqlite:
            try db.execute("PRAGMA synchronous=OFF")  // per connection: set back before anything else commits
            defer { try? db.execute("PRAGMA synchronous=FULL") }
            return try db.transaction(body)
        case .postgres:
            return try db.transaction {
                try db.execute("SET LOCAL synchronous_commit TO off")
                return try body()
            }
        }
    }

    // MARK: Scheduler

    public func lastTicks() throws -> [String: Date] {
        var out: [String: Date] = [:]
        for row in try db.query("SELECT dag_id, logical_date FROM lockstep_ticks", []) {
            if let dag = row[0], let date = row[1].flatMap(ISO8601.parse) { out[dag] = date }
        }
        return out
    }

    public func recordTick(dagID: String, logicalDate: Date) throws {
        try db.query(
            "INSERT INTO lockstep_ticks (dag_id, logical_date) VALUES ($1, $2) ON CONFLICT (dag_id) DO UPDATE SET logical_date = excluded.logical_date",
            .text(dagID), .text(ISO8601.format(logicalDate)))
    }
}

/// An event waiting in the outbox: where it goes and the event, kept as structured CloudEvent JSON.
public struct OutboxEntry: Sendable, Hashable {
    public var topic: String
    public var key: String
    public var eventJSON: String
    /// The record to publish (binary mode).
    public var record: OutgoingRecord

    public init(topic: String, key: String, event: CloudEvent) {
        self.topic = topic
        self.key = key
        eventJSON = event.structuredJSON
        record = event.record(topic: topic, key: key)
    }

    /// An entry read back from the store.
    public init(topic: String, key: String, eventJSON: String) throws {
        self.topic = topic
        self.key = key
        self.eventJSON = eventJSON
        record = try CloudEvent(structuredJSON: eventJSON).record(topic: topic, key: key)
    }
}

extension StateStore {
    /// Replaces every run, the pools, paused DAGs and timers (for `lockstep rebuild`).
    ///
    /// `finished` are runs written beside `state`'s (a rebuild's replay hands finished runs over rather
    /// than hold them); their documents are encoded in one slice per core before the transaction.
    public func replaceEngine(state: EngineState, finished: [DagRun] = [], timers: [TimerID: Date]) async throws {
        let runs = await Self.documents((finished + state.runs.values).sorted { $0.id < $1.id })
        let (meta, timerRows) = try Self.engineRows(state, timers)
        try db.transaction {
            try deleteEngine()
            _ = try write(runs: runs, meta: meta, timers: timerRows, timersCleared: [], outbox: [])
        }
    }

    /// `replaceEngine` while a replay hands the runs over: the finished ones are encoded and written as
    /// each batch arrives, on this store's thread, while the replay goes on on another core; the runs
    /// still in flight, pools, paused DAGs and timers when it ends. One transaction, as
    /// `replaceEngine`: nothing is replaced if the replay is abandoned or a write fails. Returns the
    /// runs written.
    func replaceEngine(from handOver: RunHandOver) throws -> Int {
        // Each batch in id order, as the whole was before: neighbouring keys, fewer pages touched.
        func write(_ runs: some Sequence<DagRun>, meta: [(String, String)] = [], timers: [(TimerID, String, Date)] = []) throws -> Int {
            let documents = runs.sorted { $0.id < $1.id }.map { ($0, Self.document($0)) }
            _ = try self.write(runs: documents, meta: meta, timers: timers, timersCleared: [], outbox: [])
            return documents.count
        }
        return try db.transaction {
            try deleteEngine()
            var written = 0
            while true {
                switch handOver.next() {
                case .finished(let runs):
                    written += try write(runs)
                case .end(let state, let timers):
                    let (meta, timerRows) = try Self.engineRows(state, timers)
                    return written + (try write(state.runs.values, meta: meta, timers: timerRows))
                case .abandoned:
                    throw CancellationError()
                }
            }
        }
    }

    private func deleteEngine() throws {
        try db.execute("DELETE FROM lockstep_runs")
        try db.execute("DELETE FROM lockstep_timers")
        try db.execute("DELETE FROM lockstep_meta")
    }

    /// An engine state's rows beside its runs: pools, paused DAGs and the next sequence; the timers.
    private static func engineRows(_ state: EngineState, _ timers: [TimerID: Date]) throws -> ([(String, String)], [(TimerID, String, Date)]) {
        let meta = [
            ("pools", try document(state.pools)),
            ("paused", try document(state.pausedDags)),
            ("next_sequence", String(state.nextSequence)),
        ]
        return (meta, try timers.keys.sorted().map { ($0, try document($0), timers[$0]!) })
    }
}

/// Hands the database from the thread that opened it to the store's actor. @unchecked: the opening
/// thread lets go of it when it returns, so the two never use it at once (neither connection type
/// cares which thread it is used from, only that one thread uses it at a time).
private struct OpenedDatabase: @unchecked Sendable {
    let db: any SQLDatabase
}
