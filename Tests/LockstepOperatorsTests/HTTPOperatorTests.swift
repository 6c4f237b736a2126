import Foundation
import LockstepCore
import LockstepOperators
import LockstepTestSupport
import Testing

@Suite("http: requests against real loopback servers")
struct HTTPOperatorTests {
    @Test("a POST carries the JSON body, templated headers and an Idempotency-Key from run and task, the same on every try")
    func postWithIdempotencyKey() async throws {
        let server = try ScriptedHTTPServer { _ in (201, #"{"id": 42, "items": [{"name": "a/b"}, {"name": "c~d"}]}"#) }
        var keys: [String] = []
        for tryNumber in [1, 2] {
            let attempt = try LoggedAttempt(dag: "d", task: "publish", run: "r-9", tryNumber: tryNumber, params: [
                "method": "POST", "url": "\(server.baseURL)/api/items",
                "headers": ["X-Source": "{{ dag.id }}"],
                "body": ["count": "{{ upstream.query.row_count }}", "label": "run {{ run.id }}"],
                "expect_status": [201],
                "select": ["id": "/id", "second": "/items/1/name", "whole": ""],
            ], upstream: ["query": ["row_count": 5]])
            let output = try await attempt.run("http").0.get().output
            #expect(output["status"] == 201)
            #expect(output["id"] == 42)
            #expect(output["second"] == "c~d")
            #expect(output["whole"]?["items"]?.arrayValue?.count == 2)
            let request = try #require(server.received.last)
            #expect(request.method == "POST")
            #expect(request.path == "/api/items")
            #expect(request.headers["x-source"] == "d")
            #expect(request.headers["content-type"] == "application/json")
            #expect(try JSONValue.parse(String(decoding: request.body, as: UTF8.self)) == ["count": 5, "label": "run r-9"],
                    "a sole upstream expression keeps its JSON type")
            keys.append(try #require(request.headers["idempotency-key"]))
        }
        #expect(keys == ["lockstep:d:r-9:publish", "lockstep:d:r-9:publish"])

        let get = try LoggedAttempt(params: ["url": "\(server.baseURL)/x", "expect_status": "200-299"])
        _ = try await get.run("http").0.get()
        #expect(server.received.last?.method == "GET")
        #expect(server.received.last?.headers["idempotency-key"] == nil, "a GET carries no key")
    }

    @Test("without select the output is the status and the response JSON")
    func wholeBody() async throws {
        let server = try ScriptedHTTPServer { _ in (200, #"{"ok": true}"#) }
        let output = try await (try LoggedAttempt(params: ["url": "\(server.baseURL)/"])).run("http").0.get().output
        #expect(output == ["status": 200, "body": ["ok": true]])
    }

    @Test("a status outside expect_status fails with the status and a body excerpt; 5xx may be retried, 4xx not")
    func unexpectedStatus() async throws {
        let server = try ScriptedHTTPServer { request in
            request.path == "/boom" ? (503, #"{"error": "database is down for maintenance"}"#) : (404, #"{"detail": "no such thing"}"#)
        }
        guard case .failure(let e503) = await (try LoggedAttempt(params: ["url": "\(server.baseURL)/boom"])).run("http").0 else {
            Issue.record("expected failure"); return
        }
        #expect(e503.category == .httpStatus(503))
        #expect(e503.retryable)
        #expect(e503.message.contains("answered HTTP 503, expected 200-299"))
        #expect(e503.message.contains("database is down for maintenance"))

        guard case .failure(let e404) = await (try LoggedAttempt(params: ["url": "\(server.baseURL)/x", "method": "DELETE"])).run("http").0 else {
            Issue.record("expected failure"); return
        }
        #expect(e404.category == .httpStatus(404))
        #expect(!e404.retryable)
        #expect(e404.message.contains("no such thing"))

        let ok = try ScriptedHTTPServer { _ in (200, "{}") }
        guard case .failure(let e200) = await (try LoggedAttempt(params: ["url": "\(ok.baseURL)/", "expect_status": [201, "204"]])).run("http").0 else {
            Issue.record("expected failure"); return
        }
        #expect(e200.message.contains("expected 201, 204"))
        #expect(!e200.retryable, "an unexpected 2xx will not change on a retry")
    }

    @Test("a pointer that finds nothing fails, naming the pointer and what the response holds")
    func missingPointer() async throws {
        let server = try ScriptedHTTPServer { _ in (200, #"{"data": {"id": 1}}"#) }
        guard case .failure(let error) = await (try LoggedAttempt(params: [
            "url": "\(server.baseURL)/", "select": ["name": "/data/name"],
        ])).run("http").0 else { Issue.record("expected failure"); return }
        #expect(error.category == .badResponse)
        #expect(error.message.contains("/data/name"))
        #expect(error.message.contains("keys data"))
    }

    @Test("a server that accepts and never answers hits the deadline: a retryable timeout")
    func silentServer() async throws {
        let silent = try SilentServer()
        let attempt = try LoggedAttempt(params: ["url": "\(silent.baseURL)/", "method": "POST", "body": ["x": 1], "timeout": 1])
        guard case .failure(let error) = await attempt.run("http").0 else { Issue.record("expected failure"); return }
        #expect(error.category == .timeout, "\(error)")
        #expect(error.retryable)
        withExtendedLifetime(silent) {}
    }

    @Test("header values never reach the log, the output or an error, even when the server echoes them")
    func headerSecrets() async throws {
        let token = "tok-\(UInt32.random(in: 0...UInt32.max))-secret"
        let server = try ScriptedHTTPServer { request in
            let auth = request.headers["authorization"] ?? ""
            let key = request.headers["x-api-key"] ?? ""
            return (request.path == "/fail" ? 401 : 200, #"{"echo": "\#(auth)", "key": "\#(key)"}"#)
        }
        for path in ["/ok", "/fail"] {
            let attempt = try LoggedAttempt(params: [
                "url": "\(server.baseURL)\(path)", "method": "POST",
                "headers": ["Authorization": "Bearer {{ var.PARTNER_VALUE }}", "X-Api-Key": "{{ var.PARTNER_VALUE }}"],
            ], variables: ["PARTNER_VALUE": token])
            let (result, lines) = await attempt.run("http")
            var reported = lines.map(\.text)
            switch result {
            case .success(let r): reported.append(r.output.canonicalJSON())
            case .failure(let e): reported += [e.description, e.json.canonicalJSON()]
            }
            for text in reported { #expect(!text.contains(token), "header value leaked: \(text)") }
            #expect(server.received.last?.headers["authorization"] == "Bearer \(token)", "the real value was sent")
            if path == "/ok" { #expect(try result.get().output["body"]?["key"] == "***") }
        }
    }

    @Test("bad params are config errors naming the param")
    func badParams() async throws {
        let cases: [([String: JSONValue], String)] = [
            ([:], "`url`"),
            (["url": "ftp://x/"], "http(s) URL"),
            (["url": "http://127.0.0.1:1/", "expect_status": "2xx"], "expect_status"),
            (["url": "http://127.0.0.1:1/", "select": ["a": "data/id"]], "JSON Pointer"),
            (["url": "http://127.0.0.1:1/", "headers": ["X-A": "one\r\nX-Injected: two"]], "line break"),
            (["url": "http://127.0.0.1:1/", "method": "GE T"], "method"),
        ]
        for (params, needle) in cases {
            guard case .failure(let e) = await (try LoggedAttempt(params: params)).run("http").0 else {
                Issue.record("expected failure for \(params)"); continue
            }
            #expect(e.category == .config, "\(params): \(e)")
            #expect(e.message.contains(needle), "\(params): \(e.message)")
        }
    }

    @Test("JSON Pointer follows RFC 6901: escapes, array indices, the whole document")
    func jsonPointer() throws {
        let doc: JSONValue = ["a/b": 1, "m~n": 2, "list": [10, 20], "": 3, "o": ["k": nil]]
        #expect(JSONPointer("/a~1b")?.resolve(in: doc) == 1)
        #expect(JSONPointer("/m~0n")?.resolve(in: doc) == 2)
        #expect(JSONPointer("/list/1")?.resolve(in: doc) == 20)
        #expect(JSONPointer("/")?.resolve(in: doc) == 3)
        #expect(JSONPointer("")?.resolve(in: doc) == doc)
        #expect(JSONPointer("/o/k")?.resolve(in: doc) == .null)
        #expect(JSONPointer("/list/01")?.resolve(in: doc) == nil)
        #expect(JSONPointer("/list/-")?.resolve(in: doc) == nil)
        #expect(JSONPointer("/list/2")?.resolve(in: doc) == nil)
        #expect(JSONPointer("a") == nil)
        #expect(JSONPointer("/x~2") == nil)
    }
}
