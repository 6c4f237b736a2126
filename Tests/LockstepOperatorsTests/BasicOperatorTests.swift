import Foundation
import LockstepCore
import LockstepNoblestride
import LockstepOperators
import Testing

@Suite("Registry and test operators")
struct BasicOperatorTests {
    @Test("the registry knows every operator the DAG files use")
    func registryNames() {
        let expected: Set<String> = [
            "http_health_check", "multi_health_check", "postgres_counts", "table_summary", "preprocess", "train_model",
            "notify_training_complete", "sync_fastapi", "integration_report", "noop", "sleep", "fail",
            "command", "sql", "http",
        ]
        #expect(everyOperator.names == expected)
        #expect(everyOperator.packs == ["generic", "noblestride", "testing"])
    }

    @Test("packs load as a whole: without the Noblestride pack its operators are unknown, the generic ones stay")
    func packsAreOptional() {
        let generic = OperatorRegistry(packs: [])
        #expect(generic.names.isDisjoint(with: OperatorPack.noblestride.operators.keys))
        #expect(generic.names.isDisjoint(with: OperatorPack.testing.operators.keys))
        #expect(generic.names.isSuperset(of: ["http_health_check", "postgres_counts", "noop", "command", "sql", "http"]))
    }

    @Test("an unknown operator name is a config error")
    func unknownOperator() async throws {
        let error = try await expectFailure("no_such_operator", try makeContext())
        #expect(error.category == .config && !error.retryable)
    }

    @Test("noop outputs {}; sleep outputs what it slept")
    func noopAndSleep() async throws {
        #expect(try await expectSuccess("noop", try makeContext()).output == .emptyObject)
        let slept = try await expectSuccess("sleep", try makeContext(params: ["seconds": 0.05]))
        #expect(slept.output["slept_seconds"]?.doubleValue == 0.05)
    }

    @Test("sleep past the deadline fails with a retryable timeout")
    func sleepTimeout() async throws {
        let error = try await expectFailure("sleep", try makeContext(params: ["seconds": 30], timeout: .milliseconds(200)))
        #expect(error.category == .timeout && error.retryable)
    }

    @Test("fail carries its message and retry hint")
    func failOperator() async throws {
        let hard = try await expectFailure("fail", try makeContext(params: ["message": "boom", "retryable": false]))
        #expect(hard.category == .failed && hard.message == "boom" && !hard.retryable)
        let soft = try await expectFailure("fail", try makeContext())
        #expect(soft.retryable)
        #expect(hard.json == ["category": "failed", "message": "boom", "retryable": false])
    }
}
