import Foundation
import LockstepBus
import LockstepCore
import LockstepServices
import LockstepTestKit
import LockstepTestSupport
import Testing

/// Alerts: lifecycle events POSTed to webhooks (an in-process HTTP receiver), on the embedded bus.
@Suite struct AlerterTests {
    static let dags = [
        DagSpec(id: "flop", tasks: [task("x", "fail", params: ["retryable": false])]),
        DagSpec(id: "fine", tasks: [task("a")]),
    ]

    @Test func aFailedRunIsPostedWithItsCauseAndOnlyTheAlertsThatAskedAreTold() async throws {
        let failures = try WebhookSink(), successes = try WebhookSink(), otherDag = try WebhookSink()
        defer { [failures, successes, otherDag].forEach { $0.stop() } }
        let config = LockstepConfig(alerts: [
            AlertSpec(name: "ops", url: failures.url),  // default: run.failed, every DAG
            AlertSpec(name: "done", url: successes.url, on: [.runSucceeded]),
            AlertSpec(name: "fine-failures", url: otherDag.url, on: [.runFailed, .taskFailed], dags: ["fine"]),
        ])
        let system = try await InProcessLockstep(dags: Self.dags, config: config)
        system.start(also: [try Alerter(runtime: system.runtime)])
        let flop = try await system.trigger("flop")
        let failed = try await system.waitForRun(flop)
        let fine = try await system.trigger("fine")
        _ = try await system.waitForRun(fine)
        // `fine`'s run.succeeded is its last event: once told, everything before it on its partition was handled.
        try await poll("both alerts to be posted", timeout: .seconds(20)) { !successes.received.isEmpty && !failures.received.isEmpty }
        await system.close()

        #expect(failures.received.count == 1)
        let request = try #require(failures.received.first)
        #expect(request.method == "POST" && request.path == "/hooks/alerts")
        #expect(request.headers["content-type"] == "application/json")
        let body = try JSONDecoder().decode(JSONValue.self, from: request.body)
        #expect(body["alert"]?.stringValue == "ops")
        #expect(body["event"]?["type"]?.stringValue == "lockstep.run.failed")
        #expect(body["event"]?["data"]?["run_id"]?.stringValue == flop)
        #expect(request.headers["idempotency-key"] == "ops:\(body["event"]?["id"]?.stringValue ?? "-")")
        let text = try #require(body["text"]?.stringValue)
        let cause = try #require(failed.failure)
        #expect(text.contains("run failed — DAG flop, run \(flop)") && text.contains(cause), "text: \(text)")

        #expect(successes.received.count == 1)
        let success = try JSONDecoder().decode(JSONValue.self, from: try #require(successes.received.first).body)
        #expect(success["event"]?["data"]?["run_id"]?.stringValue == fine)
        #expect(otherDag.received.isEmpty)
    }

    @Test func anUnreachableWebhookIsDeadLetteredWithTheReasonAndTheAlerterGoesOn() async throws {
        let down = "http://127.0.0.1:\(try ClosedPort.next())/hook"
        let system = try await InProcessLockstep(dags: Self.dags, config: LockstepConfig(alerts: [AlertSpec(name: "pager", url: down)]))
        let alerter = try Alerter(runtime: system.runtime, timeout: .seconds(2), maxAttempts: 2, backoff: .milliseconds(20))
        system.start(also: [alerter])
        let first = try await system.trigger("flop")
        _ = try await system.waitForRun(first)
        let second = try await system.trigger("flop")
        _ = try await system.waitForRun(second)
        let letters = try await system.events(on: system.runtime.topics.deadLetters) { $0.count >= 2 }
        await system.close()
        #expect(letters.count == 2)
        for letter in letters {
            #expect(letter.data?["component"]?.stringValue == "alerter")
            let reason = letter.data?["reason"]?.stringValue ?? ""
            #expect(reason.contains("alert `pager` was not delivered") && reason.contains("after 2 attempts"), "reason: \(reason)")
            #expect(letter.data?["original"]?["topic"]?.stringValue == system.runtime.topics.runEvents)
        }
    }

    @Test func aWebhookThatNeverAnswersTimesOutAtItsDeadline() async throws {
        let silent = try SilentServer()
        let system = try await InProcessLockstep(
            dags: Self.dags, config: LockstepConfig(alerts: [AlertSpec(name: "slow", url: silent.baseURL + "/hook")]))
        system.start(also: [try Alerter(runtime: system.runtime, timeout: .seconds(1), maxAttempts: 1)])
        let run = try await system.trigger("flop")
        _ = try await system.waitForRun(run)
        let letters = try await system.events(on: system.runtime.topics.deadLetters) { !$0.isEmpty }
        await system.close()
        let reason = try #require(letters.first?.data?["reason"]?.stringValue)
        #expect(reason.contains("alert `slow` was not delivered") && reason.contains("got no response within 1"), "reason: \(reason)")
    }

    @Test func aURLFromAnUnsetVariableIsRefusedByName() async throws {
        let system = try await InProcessLockstep(
            dags: Self.dags, config: LockstepConfig(alerts: [AlertSpec(name: "slack", url: "{{ var.SLACK_WEBHOOK_URL }}")]))
        #expect(throws: AlerterError.self) { try Alerter(runtime: system.runtime) }
        var withVariable = system.runtime
        withVariable.config.variables["SLACK_WEBHOOK_URL"] = "https://hooks.example.invalid/T000/B000"
        let resolved = try Alerter(runtime: withVariable).alerts.first?.delivery.url.host
        await system.close()
        #expect(resolved == "hooks.example.invalid")
    }
}
