import Foundation
import LockstepCore
import LockstepNoblestride
import LockstepOperators
import Testing

@Suite("Templates and configuration overrides")
struct TemplateAndConfigTests {
    @Test("variables and run values render inside nested params; events keep the template")
    func rendersTemplates() async throws {
        let context = try makeContext(dag: "d", task: "t", run: "r-7", tryNumber: 2, variables: ["BASE": "http://x:1"])
        let renderer = TemplateRenderer(context)
        #expect(try renderer.render("{{ var.BASE }}/health") == "http://x:1/health")
        #expect(try renderer.render("{{dag.id}}/{{ run.id }}/{{ task.id }}/{{ run.try_number }}") == "d/r-7/t/2")
        #expect(try renderer.render("{{ run.logical_date }}") == "2025-09-18T02:00:00.000Z")
        var withConf = context
        withConf.conf = ["model_type": "fancy", "depth": 3]
        #expect(try TemplateRenderer(withConf).render("{{ conf.model_type }}-{{ conf.depth }}") == "fancy-3")
        #expect(throws: OperatorError.self) { try TemplateRenderer(withConf).render("{{ conf.absent }}") }
        let nested: JSONValue = ["services": ["a": ["url": "{{ var.BASE }}/h"]], "n": 3]
        #expect(try renderer.render(nested) == ["services": ["a": ["url": "http://x:1/h"]], "n": 3])
    }

    @Test("an unknown variable is a config error naming it; a bad expression too")
    func unknownVariable() async throws {
        let context = try makeContext(params: ["url": "{{ var.MISSING_THING }}/health"])
        let error = try await expectFailure("http_health_check", context)
        #expect(error.category == .config)
        #expect(error.retryable == false)
        #expect(error.message.contains("MISSING_THING"))
        #expect(throws: OperatorError.self) { try TemplateRenderer(context).render("{{ run.nope }}") }
        #expect(throws: OperatorError.self) { try TemplateRenderer(context).render("{{ var.X") }
    }

    @Test("LOCKSTEP_VAR_ and LOCKSTEP_CONN_ override the file; the loaded packs' defaults fill the gaps")
    func environmentOverrides() {
        let file = LockstepConfig(variables: ["FASTAPI_BASE_URL": "http://file:1", "KEEP": "k"],
                                  connections: ["noblestride_postgres": "postgresql://u:file@h/db"])
        let config = file.applyingEnvironment([
            "LOCKSTEP_VAR_FASTAPI_BASE_URL": "http://env:2",
            "LOCKSTEP_CONN_NOBLESTRIDE_POSTGRES": "postgresql://u:env@h:5436/noblestride",
            "LOCKSTEP_CONN_Recommender_Postgres": "postgresql://r@h/rec",
            "UNRELATED": "x",
        ], defaults: OperatorPack.noblestride.variableDefaults)
        #expect(config.variables["FASTAPI_BASE_URL"] == "http://env:2")
        #expect(config.variables["KEEP"] == "k")
        #expect(config.variables["NODEJS_BASE_URL"] == "http://localhost:3030")
        #expect(config.connections["noblestride_postgres"] == "postgresql://u:env@h:5436/noblestride")
        #expect(config.connections["recommender_postgres"] == "postgresql://r@h/rec")
        #expect(config.variables["UNRELATED"] == nil)
        #expect(LockstepConfig.empty.applyingEnvironment([:], defaults: OperatorPack.noblestride.variableDefaults)
            .variables["FASTAPI_BASE_URL"] == "http://localhost:8010")
        #expect(LockstepConfig.empty.applyingEnvironment([:]).variables["FASTAPI_BASE_URL"] == nil, "Core has no seed defaults of its own")
    }

    @Test("redacted URIs keep user, host, port and database, never a password or query")
    func redaction() {
        #expect(Redacted.uri("postgresql://postgres:S3cr3t@localhost:5436/noblestride?sslmode=require&password=x")
                == "postgresql://postgres@localhost:5436/noblestride")
        #expect(Redacted.uri("postgresql://u:p@ss/w@rd@db.example:5432/app") == "postgresql://u@db.example:5432/app")
        #expect(Redacted.uri("https://api.example/hook?token=abc") == "https://api.example/hook")
        #expect(Redacted.uri("https://user:tok@api.example") == "https://user@api.example")
        #expect(Redacted.uri("host=db password=secret") == "<redacted>")
        let config = LockstepConfig(connections: ["a": "postgresql://x:hidden@h/d"])
        #expect(config.redactedConnections["a"] == "postgresql://x@h/d")
    }

    @Test("the idempotency key names dag, run and task and ignores the try number")
    func idempotencyKey() throws {
        let first = try makeContext(dag: "training", task: "notify", run: "scheduled__2025-09-18T02:00:00Z", tryNumber: 1)
        let key = IdempotencyKey.make(dagID: first.dagID, runID: first.runID, taskID: first.taskID)
        #expect(key == "lockstep:training:scheduled__2025-09-18T02%3A00%3A00Z:notify")
        #expect(key != IdempotencyKey.make(dagID: "training", runID: "other", taskID: "notify"))
        #expect(!key.contains(" ") && !key.contains("\n"))
    }
}
