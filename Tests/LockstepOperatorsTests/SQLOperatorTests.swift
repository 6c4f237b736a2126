import Foundation
import LockstepCore
import LockstepOperators
import LockstepTestSupport
import Testing

@Suite("sql: statements in one transaction against a real PostgreSQL")
struct SQLOperatorTests {
    /// A fresh database with `t (id serial, note text)`, and its connection map.
    private func database() async throws -> (PostgresCluster, String, [String: String]) {
        let cluster = try await PostgresCluster.shared()
        let db = "sqlop_\(UInt32.random(in: 0...UInt32.max))"
        try cluster.psql("CREATE DATABASE \(db)")
        try cluster.psql("CREATE TABLE t (id serial PRIMARY KEY, note text)", database: db)
        return (cluster, db, ["warehouse": cluster.uri(database: db)])
    }

    @Test("a parameter shaped like an injection is stored as data and the table survives")
    func parametersAreBound() async throws {
        let (cluster, db, connections) = try await database()
        let hostile = "'); DROP TABLE t; --"
        let attempt = try LoggedAttempt(params: [
            "connection": "warehouse", "sql": "INSERT INTO t (note) VALUES ($1), ($2) RETURNING id, note",
            "parameters": [.string(hostile), "{{ upstream.make.note }}"],
        ], upstream: ["make": ["note": .string(hostile + " (via upstream)")]], connections: connections)
        let (result, lines) = await attempt.run("sql")
        let output = try result.get().output
        #expect(output["rows"] == [["id": 1, "note": .string(hostile)], ["id": 2, "note": .string(hostile + " (via upstream)")]])
        #expect(output["affected_rows"] == 2)
        #expect(output["command"] == "INSERT 0 2")
        #expect(try cluster.psql("SELECT count(*) FROM t", database: db) == "2", "the table is still there")
        #expect(try cluster.psql("SELECT note FROM t WHERE id = 1", database: db) == hostile)
        #expect(lines.contains { $0.text.contains("INSERT 0 2") })
    }

    @Test("rows come back keyed by column with their types, capped by row_limit with a count of the rest")
    func rowsAndCounts() async throws {
        let (_, _, connections) = try await database()
        let attempt = try LoggedAttempt(params: [
            "connection": "warehouse",
            "sql": [
                "INSERT INTO t (note) SELECT 'n' || g FROM generate_series(1, 5) g",
                .string("SELECT id, note, id * 1.5 AS scaled, id > $1 AS big, NULL AS nothing, jsonb_build_object('k', id) AS j, "
                    + "count(*) OVER () AS total, sum(id::bigint) OVER () AS id_sum, id AS note FROM t ORDER BY id"),
            ],
            "parameters": [[], [2]], "row_limit": 3,
        ], connections: connections)
        let output = try await attempt.run("sql").0.get().output
        #expect(output["row_count"] == 5)
        #expect(output["rows_omitted"] == 2)
        #expect(output["affected_rows"] == 5)
        #expect(output["command"] == "SELECT 5")
        #expect(output["columns"] == ["id", "note", "scaled", "big", "nothing", "j", "total", "id_sum", "note_2"])
        let rows = try #require(output["rows"]?.arrayValue)
        #expect(rows.count == 3)
        #expect(rows[0] == ["id": 1, "note": "n1", "scaled": "1.5", "big": false, "nothing": nil, "j": ["k": 1], "total": 5, "id_sum": 15,
                           "note_2": 1])
        #expect(rows[2]["big"] == true)
        #expect(rows[1]["scaled"] == "3.0", "a numeric with a scale stays text, digits intact")
    }

    @Test("a failing statement rolls back the ones before it and is named in the error")
    func oneTransaction() async throws {
        let (cluster, db, connections) = try await database()
        let attempt = try LoggedAttempt(params: [
            "connection": "warehouse", "sql": ["INSERT INTO t (note) VALUES ('kept?')", "SELECT * FROM no_such_table"],
        ], connections: connections)
        guard case .failure(let error) = await attempt.run("sql").0 else { Issue.record("expected failure"); return }
        #expect(error.category == .sql(sqlstate: "42P01"))
        #expect(!error.retryable)
        #expect(error.message.contains("statement 2 of 2"))
        #expect(try cluster.psql("SELECT count(*) FROM t", database: db) == "0", "the insert was rolled back")
    }

    @Test("pg_sleep past statement_timeout is cancelled by the server: a retryable timeout (SQLSTATE 57014)")
    func statementTimeout() async throws {
        let (_, _, connections) = try await database()
        // The attempt's budget (60 s) outlasts the sleep (30 s): only statement_timeout can stop it.
        let attempt = try LoggedAttempt(params: ["connection": "warehouse", "sql": "SELECT pg_sleep(30)", "statement_timeout": 1],
                                        connections: connections, timeout: .seconds(60))
        guard case .failure(let error) = await attempt.run("sql").0 else { Issue.record("expected failure"); return }
        #expect(error.category == .timeout, "\(error)")
        #expect(error.retryable)
        #expect(error.message.contains("statement timeout"))
        #expect(error.message.contains("statement_timeout"), "says which knob to turn")
    }

    @Test("two statements in one string are refused with the fix; bad params are config errors")
    func mistakes() async throws {
        let (cluster, db, connections) = try await database()
        let attempt = try LoggedAttempt(params: ["connection": "warehouse", "sql": "INSERT INTO t (note) VALUES ('a'); DROP TABLE t"],
                                        connections: connections)
        guard case .failure(let error) = await attempt.run("sql").0 else { Issue.record("expected failure"); return }
        #expect(error.category == .sql(sqlstate: "42601"), "\(error)")
        #expect(error.message.contains("list under `sql`"))
        #expect(try cluster.psql("SELECT count(*) FROM t", database: db) == "0")

        let cases: [([String: JSONValue], String)] = [
            (["connection": "warehouse"], "`sql`"),
            (["connection": "warehouse", "sql": ["SELECT 1", "SELECT $1"], "parameters": [1]], "list of 2 lists"),
            (["connection": "warehouse", "sql": "SELECT 1", "row_limit": -1], "row_limit"),
            (["connection": "nope", "sql": "SELECT 1"], "LOCKSTEP_CONN_NOPE"),
        ]
        for (params, needle) in cases {
            guard case .failure(let e) = await (try LoggedAttempt(params: params, connections: connections)).run("sql").0 else {
                Issue.record("expected failure for \(params)"); continue
            }
            #expect(e.category == .config, "\(params): \(e)")
            #expect(e.message.contains(needle), "\(params): \(e.message)")
        }
    }
}
