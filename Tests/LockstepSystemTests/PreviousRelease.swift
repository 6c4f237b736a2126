import Foundation

/// A state database as the release before versioned migrations left it, written with SQL (running
/// the old binary would mean building it): its schema — what its `StateStore` ran on every start,
/// verbatim, with no `lockstep_schema_migrations` table — and one finished run of `system_sleep`
/// as its coordinator stored it. Kept here as text, not taken from `Migrations` or encoded with
/// today's types, so a change to either that would break old databases fails the test instead of
/// quietly changing what "old" means.
enum PreviousRelease {
    static let schema = """
        CREATE TABLE IF NOT EXISTS lockstep_runs (run_id TEXT PRIMARY KEY, dag_id TEXT NOT NULL, state TEXT NOT NULL, sequence BIGINT NOT NULL, body TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS lockstep_runs_dag ON lockstep_runs (dag_id, sequence);
        CREATE TABLE IF NOT EXISTS lockstep_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS lockstep_timers (timer_id TEXT PRIMARY KEY, body TEXT NOT NULL, fire_at_ms BIGINT NOT NULL);
        CREATE TABLE IF NOT EXISTS lockstep_outbox (id BIGSERIAL PRIMARY KEY, topic TEXT NOT NULL, record_key TEXT NOT NULL, event TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS lockstep_attempts (attempt_id TEXT PRIMARY KEY, event TEXT NOT NULL, recorded_at_ms BIGINT NOT NULL);
        CREATE TABLE IF NOT EXISTS lockstep_claims (attempt_id TEXT PRIMARY KEY, worker TEXT NOT NULL, heartbeat_ms BIGINT NOT NULL);
        CREATE TABLE IF NOT EXISTS lockstep_ticks (dag_id TEXT PRIMARY KEY, logical_date TEXT NOT NULL);
        """

    static let runID = "system_sleep~previous-release"
    static let worker = "worker/worker-oldhost-4242/0"

    /// The run as its coordinator wrote it: `DagRun` as JSON with sorted keys and dates in seconds
    /// since 2001-01-01 (Foundation's default), nil fields left out.
    static let runBody = """
        {"conf":{},"dagID":"system_sleep","finishedAt":780000004.5,"id":"system_sleep~previous-release","logicalDate":780000000,\
        "requestedAt":780000000,"sequence":0,"startedAt":780000000.25,"state":"succeeded","tasks":{\
        "first":{"attempts":[{"finishedAt":780000000.75,"outcome":"succeeded","scheduledAt":780000000.25,"startedAt":780000000.5,"tryNumber":1,"worker":"\(worker)"}],\
        "maxTries":1,"output":{},"state":"succeeded","taskID":"first","tryNumber":1,"warnings":[]},\
        "last":{"attempts":[{"finishedAt":780000004.25,"outcome":"succeeded","scheduledAt":780000004,"startedAt":780000004.1,"tryNumber":1,"worker":"\(worker)"}],\
        "maxTries":1,"output":{},"state":"succeeded","taskID":"last","tryNumber":1,"warnings":[]},\
        "nap":{"attempts":[{"finishedAt":780000003.875,"outcome":"succeeded","scheduledAt":780000000.8,"startedAt":780000000.875,"tryNumber":1,"worker":"\(worker)"}],\
        "maxTries":1,"output":{"slept_seconds":3},"state":"succeeded","taskID":"nap","tryNumber":1,"warnings":[]}},\
        "trigger":{"manual":{}}}
        """

    /// Its rows: the run, the engine's meta rows, and the results its worker recorded.
    static var data: String {
        var sql = """
            INSERT INTO lockstep_runs (run_id, dag_id, state, sequence, body) VALUES ('\(runID)', 'system_sleep', 'succeeded', 0, $body$\(runBody)$body$);
            INSERT INTO lockstep_meta (name, value) VALUES ('pools', '{"ml_training_pool":{"holders":[],"waiting":[]}}'), ('paused', '[]'), ('next_sequence', '1');

            """
        for (task, time, output) in [("first", 780000000.75, "{}"), ("nap", 780000003.875, #"{"slept_seconds":3}"#), ("last", 780000004.25, "{}")] {
            let attempt = "\(runID)/\(task)#1"
            let event = #"{"data":{"output":\#(output),"run_id":"\#(runID)","task_id":"\#(task)","try_number":1,"warnings":[]},"datacontenttype":"application/json","id":"result/\#(attempt)","source":"lockstep/worker/worker-oldhost-4242","specversion":"1.0","subject":"\#(attempt)","type":"lockstep.attempt.succeeded"}"#
            let ms = Int64((time + 978_307_200) * 1000)
            sql += "INSERT INTO lockstep_attempts (attempt_id, event, recorded_at_ms) VALUES ('\(attempt)', $event$\(event)$event$, \(ms));\n"
        }
        return sql
    }
}
