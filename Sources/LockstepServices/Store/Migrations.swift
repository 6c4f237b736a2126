/// One step of the state store's schema. Applied in version order, once per database, inside one
/// transaction with the row that records it (both dialects' DDL is transactional), so a step is
/// either wholly there or not at all.
struct Migration: Sendable {
    let version: Int
    let name: String
    let statements: @Sendable (SQLDialect) -> [String]
}

/// Every migration this release knows, oldest first. Append only: a released migration is never
/// edited, since databases out there already ran it.
enum Migrations {
    static let all: [Migration] = [initial, taskLogs]

    static var latest: Int { all.last?.version ?? 0 }

    /// The schema of the releases before versioned migrations, exactly as they created it on every
    /// start. Every statement is `IF NOT EXISTS`, so running it on such a database changes nothing
    /// (and completes one a crash left half-made): that is how an old database is adopted.
    static let initial = Migration(version: 1, name: "initial schema") { dialect in
        let serial = dialect == .sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY"
        return [
            "CREATE TABLE IF NOT EXISTS lockstep_runs (run_id TEXT PRIMARY KEY, dag_id TEXT NOT NULL, state TEXT NOT NULL, sequence BIGINT NOT NULL, body TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS lockstep_runs_dag ON lockstep_runs (dag_id, sequence)",
            "CREATE TABLE IF NOT EXISTS lockstep_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS lockstep_timers (timer_id TEXT PRIMARY KEY, body TEXT NOT NULL, fire_at_ms BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS lockstep_outbox (id \(serial), topic TEXT NOT NULL, record_key TEXT NOT NULL, event TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS lockstep_attempts (attempt_id TEXT PRIMARY KEY, event TEXT NOT NULL, recorded_at_ms BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS lockstep_claims (attempt_id TEXT PRIMARY KEY, worker TEXT NOT NULL, heartbeat_ms BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS lockstep_ticks (dag_id TEXT PRIMARY KEY, logical_date TEXT NOT NULL)",
        ]
    }

    /// Per-attempt task logs (see `TaskLogStore.swift`). The primary key is the cursor's index: a
    /// page or a follow poll (`seq > cursor` of one attempt) is one range scan. `time_ms` is indexed
    /// for pruning by age.
    static let taskLogs = Migration(version: 2, name: "task logs") { _ in
        [
            "CREATE TABLE lockstep_task_logs (run_id TEXT NOT NULL, task_id TEXT NOT NULL, try_number INTEGER NOT NULL, seq BIGINT NOT NULL, time_ms BIGINT NOT NULL, stream TEXT NOT NULL, text TEXT NOT NULL, PRIMARY KEY (run_id, task_id, try_number, seq))",
            "CREATE INDEX lockstep_task_logs_time ON lockstep_task_logs (time_ms)",
        ]
    }
}
