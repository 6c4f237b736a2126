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
    static let all: [Migration] = [initial, taskLogs, heartbeats, users, runIndexes]

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

    /// What each component process last said about itself (see `HeartbeatStore.swift`), so a process
    /// that is not it — `lockstep runs`, a health check — can tell a run that waits for a component
    /// that is reconnecting or gone from one that is merely slow. One row per component and process.
    static let heartbeats = Migration(version: 3, name: "component heartbeats") { _ in
        [
            "CREATE TABLE lockstep_heartbeats (component TEXT NOT NULL, instance TEXT NOT NULL, kind TEXT NOT NULL, queue TEXT, state TEXT NOT NULL, detail TEXT NOT NULL, holding TEXT NOT NULL, since_ms BIGINT NOT NULL, heartbeat_ms BIGINT NOT NULL, PRIMARY KEY (component, instance))",
        ]
    }

    /// The API's users, browser sessions, failed-login counts and token key (LockstepHTTP's
    /// `UserDirectory` reads and writes them). `IF NOT EXISTS`: the API created these same tables
    /// itself before this migration, so a database it already used is adopted unchanged.
    static let users = Migration(version: 4, name: "API users and sessions") { _ in
        [
            "CREATE TABLE IF NOT EXISTS lockstep_users (username TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL, created_at_ms BIGINT NOT NULL)",
            // The session id is kept as its SHA-256: a copy of the table logs nobody in.
            "CREATE TABLE IF NOT EXISTS lockstep_sessions (id_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf_token TEXT NOT NULL, expires_at_ms BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS lockstep_login_failures (throttle_key TEXT PRIMARY KEY, failures BIGINT NOT NULL, blocked_until_ms BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS lockstep_api_keys (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ]
    }

    /// The runs list's reads: every page is newest first below a cursor (`sequence`), optionally of
    /// some states. Without these a page of all DAGs' runs, or of the failed ones, scans the table.
    static let runIndexes = Migration(version: 5, name: "run list indexes") { _ in
        [
            "CREATE INDEX lockstep_runs_sequence ON lockstep_runs (sequence)",
            "CREATE INDEX lockstep_runs_state ON lockstep_runs (state, sequence)",
        ]
    }
}
