import Foundation
import LockstepCore
import LockstepOperators
import LockstepTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("PostgreSQL deadline when the server itself stops answering")
struct PostgresHungServerTests {
    @Test("a backend frozen mid-query (SIGSTOP) cannot run statement_timeout; the watchdog ends the attempt as a timeout")
    func frozenBackend() async throws {
        let cluster = try await PostgresCluster.shared()
        let db = "hung_\(UInt32.random(in: 0...UInt32.max))"
        try cluster.psql("CREATE DATABASE \(db)")
        try cluster.psql("CREATE VIEW slow AS SELECT 1 AS s FROM pg_sleep(60)", database: db)
        let app = "lockstep_hung_\(UInt32.random(in: 0...UInt32.max))"
        let context = try makeContext(params: ["connection": "n", "tables": ["slow"], "timeout": 15],
                                      connections: ["n": cluster.uri(database: db, query: "application_name=\(app)")])
        async let outcome = runOperator("postgres_counts", context)

        var backend: Int32?
        let give = ContinuousClock.now + .seconds(12)
        while backend == nil, ContinuousClock.now < give {
            let pid = try cluster.psql("SELECT pid FROM pg_stat_activity WHERE application_name = '\(app)' AND query LIKE '%slow%'")
            backend = Int32(pid)
            if backend == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let pid = try #require(backend, "the operator's query never showed up in pg_stat_activity")
        #expect(kill(pid, SIGSTOP) == 0)
        defer { kill(pid, SIGCONT); _ = try? cluster.psql("SELECT pg_terminate_backend(\(pid))") }

        guard case .failure(let error) = await outcome else {
            Issue.record("a frozen backend cannot answer, yet the operator succeeded")
            return
        }
        #expect(error.category == .timeout, "\(error)")
        #expect(error.retryable)
        #expect(error.message.contains("did not answer before the deadline"), "the watchdog, not statement_timeout, ended it: \(error)")
    }
}
