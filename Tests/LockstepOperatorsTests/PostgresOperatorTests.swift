import Foundation
import LockstepCore
import LockstepOperators
import LockstepTestSupport
import Testing

@Suite("PostgreSQL operators against a real cluster")
struct PostgresOperatorTests {
    @Test("postgres_counts: the seed's extract_data counts from the noblestride database")
    func counts() async throws {
        let cluster = try await PostgresCluster.shared()
        let context = try makeContext(task: "extract_data", params: ["connection": "noblestride_postgres", "tables": ["investors", "businesses"]],
                                      connections: ["noblestride_postgres": cluster.uri()])
        let result = try await expectSuccess("postgres_counts", context)
        #expect(result.output == ["investors_count": 75, "businesses_count": 150])
    }

    @Test("table_summary: every base table of public, views excluded, with totals")
    func summary() async throws {
        let cluster = try await PostgresCluster.shared()
        let context = try makeContext(task: "extract_data", params: ["connection": "noblestride_postgres"],
                                      connections: ["noblestride_postgres": cluster.uri()])
        let result = try await expectSuccess("table_summary", context)
        #expect(result.output["table_summary"] == ["users": 1247, "businesses": 150, "investors": 75, "deals": 89, "feedback": 542])
        #expect(result.output["total_records"] == 2103)
        #expect(result.output["table_count"] == 5)
    }

    @Test("table_summary: awkward names are counted, an injection-shaped name executes nothing")
    func awkwardNames() async throws {
        let cluster = try await PostgresCluster.shared()
        let db = "awkward_\(UInt32.random(in: 0...UInt32.max))"
        try cluster.psql("CREATE DATABASE \(db)")
        try cluster.psql("""
            CREATE TABLE "user" (id int); INSERT INTO "user" SELECT generate_series(1, 3);
            CREATE TABLE "Mixed Case" (id int); INSERT INTO "Mixed Case" SELECT generate_series(1, 4);
            CREATE TABLE "x; DROP TABLE y" (id int); INSERT INTO "x; DROP TABLE y" SELECT generate_series(1, 5);
            CREATE TABLE y (id int); INSERT INTO y VALUES (1), (2);
            CREATE TABLE "quo""te" (id int);
            CREATE SCHEMA other; CREATE TABLE other."user" (id int); INSERT INTO other."user" VALUES (1);
            CREATE TABLE parted (id int) PARTITION BY RANGE (id);
            CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (0) TO (100);
            INSERT INTO parted VALUES (1), (2), (3), (4), (5), (6);
            CREATE VIEW v AS SELECT * FROM y;
            """, database: db)
        let connections = ["c": cluster.uri(database: db)]
        let result = try await expectSuccess("table_summary", try makeContext(
            params: ["connection": "c", "schemas": ["public", "other", "pg_catalog"]], connections: connections))
        #expect(result.output["table_summary"] == [
            "user": 3, "Mixed Case": 4, "x; DROP TABLE y": 5, "y": 2, "quo\"te": 0, "other.user": 1, "parted": 6,
        ])
        #expect(result.output["total_records"] == 21)
        // The injection-shaped name was a name: y is still there with its rows.
        #expect(try cluster.psql("SELECT count(*) FROM y", database: db) == "2")

        let counts = try await expectSuccess("postgres_counts", try makeContext(
            params: ["connection": "c", "tables": ["x; DROP TABLE y", "Mixed Case", "user"]], connections: connections))
        #expect(counts.output == ["x; DROP TABLE y_count": 5, "Mixed Case_count": 4, "user_count": 3])
        #expect(try cluster.psql("SELECT count(*) FROM y", database: db) == "2")
    }

    @Test("a missing table is an SQL error 42P01, not retryable")
    func missingTable() async throws {
        let cluster = try await PostgresCluster.shared()
        let error = try await expectFailure("postgres_counts", try makeContext(
            params: ["connection": "n", "tables": ["investors", "no_such_table"]], connections: ["n": cluster.uri()]))
        #expect(error.category == .sql(sqlstate: "42P01"))
        #expect(!error.retryable)
        #expect(error.message.contains("no_such_table"))
    }

    @Test("a wrong password is an auth error, not retryable, and the password is not in it")
    func wrongPassword() async throws {
        let cluster = try await PostgresCluster.shared()
        let wrong = "Wr0ngPassw0rd-\(UInt32.random(in: 0...UInt32.max))"
        let error = try await expectFailure("table_summary", try makeContext(
            params: ["connection": "n"], connections: ["n": cluster.uri(password: wrong)]))
        #expect(error.category == .auth)
        #expect(!error.retryable)
        #expect(!error.description.contains(wrong))
        #expect(error.message.contains("postgresql://postgres@127.0.0.1:\(cluster.port)/noblestride"))
    }

    @Test("a database that is down is unavailable and retryable")
    func databaseDown() async throws {
        let port = try ClosedPort.next()
        let error = try await expectFailure("postgres_counts", try makeContext(
            params: ["connection": "n", "tables": ["investors"], "timeout": 5],
            connections: ["n": "postgresql://postgres:pw@127.0.0.1:\(port)/noblestride"]))
        #expect(error.category == .unavailable)
        #expect(error.retryable)
    }

    @Test("a server that accepts and never answers times out, retryable")
    func silentServer() async throws {
        let silent = try SilentServer()
        let error = try await expectFailure("table_summary", try makeContext(
            params: ["connection": "n", "timeout": 1], connections: ["n": "postgresql://postgres:pw@127.0.0.1:\(silent.port)/noblestride"]))
        #expect(error.category == .timeout, "\(error)")
        #expect(error.retryable)
        withExtendedLifetime(silent) {}
    }

    @Test("a query longer than the deadline is cancelled by statement_timeout as a retryable timeout")
    func statementTimeout() async throws {
        let cluster = try await PostgresCluster.shared()
        let db = "slow_\(UInt32.random(in: 0...UInt32.max))"
        try cluster.psql("CREATE DATABASE \(db)")
        // A view whose every scan sleeps: counting it runs past any small deadline.
        try cluster.psql("CREATE VIEW slow AS SELECT 1 AS s FROM pg_sleep(30)", database: db)
        let error = try await expectFailure("postgres_counts", try makeContext(
            params: ["connection": "n", "tables": ["slow"], "timeout": 3], connections: ["n": cluster.uri(database: db)]))
        #expect(error.category == .timeout, "\(error)")
        #expect(error.retryable)
    }

    @Test("sslmode from the URI is honoured: require against a server without TLS fails as tls, not retryable")
    func sslModeRequire() async throws {
        let cluster = try await PostgresCluster.shared()
        let error = try await expectFailure("postgres_counts", try makeContext(
            params: ["connection": "n", "tables": ["investors"]], connections: ["n": cluster.uri(query: "sslmode=require")]))
        #expect(error.category == .tls, "\(error)")
        #expect(!error.retryable)
    }

    @Test("an unknown connection name is a config error naming the environment override")
    func unknownConnection() async throws {
        let error = try await expectFailure("postgres_counts", try makeContext(params: ["connection": "nope", "tables": ["t"]]))
        #expect(error.category == .config)
        #expect(error.message.contains("LOCKSTEP_CONN_NOPE"))
    }
}
