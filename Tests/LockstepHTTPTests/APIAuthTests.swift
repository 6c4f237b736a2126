import Foundation
import LockstepHTTP
import Testing

/// Users and roles: each role may do what Airflow's simple auth manager lets it, no more; tokens and
/// sessions are checked; failed logins are slowed down.
@Suite(.serialized) struct APIAuthTests {
    /// One call of each kind, and the least role that may make it.
    static var kinds: [(kind: String, least: Role, method: String, path: String, body: [String: Any]?)] { [
        ("read a DAG", .viewer, "GET", "/api/v1/dags/api_pipeline", nil),
        ("trigger a run", .user, "POST", "/api/v1/dags/other_pipeline/runs", [:]),
        ("read connections", .op, "GET", "/api/v1/connections", nil),
        ("plan a backfill", .op, "POST", "/api/v1/backfills", ["dag_id": "api_pipeline", "from": "2025-09-17T00:00:00Z", "to": "2025-09-18T00:00:00Z", "dry_run": true]),
        ("list users", .admin, "GET", "/api/v1/users", nil),
    ] }

    @Test func eachRoleIsAllowedWhatItsLevelAllowsAndRefusedTheRest() async throws {
        let system = try await APITestSystem()
        let admin = APIClient(base: system.base)
        try await admin.logIn("admin", system.adminPassword)
        var passwords: [Role: String] = [:]
        for role in [Role.viewer, .user, .op] {
            let added = try await admin.send("POST", "/api/v1/users", json: ["username": "a-\(role)", "role": role.rawValue])
            #expect(added.status == 201, "\(added.text)")
            passwords[role] = try #require(added.object["password"] as? String)
        }
        for role in Role.allCases {
            let client = APIClient(base: system.base)
            if role == .admin { try await client.logIn("admin", system.adminPassword) } else { try await client.logIn("a-\(role)", passwords[role]!) }
            var allowed = 0, refused = 0
            for call in Self.kinds {
                let answer = try await client.send(call.method, call.path, json: call.body)
                if role >= call.least {
                    #expect((200..<300).contains(answer.status), "\(role) may \(call.kind): \(answer.status) \(answer.text)")
                    allowed += 1
                } else {
                    #expect(answer.status == 403, "\(role) may not \(call.kind): \(answer.status)")
                    #expect(answer.object["type"] as? String == "urn:lockstep:problem:role-required")
                    #expect((answer.object["detail"] as? String ?? "").contains("`\(call.least)`"), "the 403 names the role needed")
                    refused += 1
                }
            }
            // Every role is allowed something; every role but admin is refused something.
            #expect(allowed > 0)
            #expect(role == .admin ? refused == 0 : refused > 0)
        }
        // The user added through the API was audited with the admin's name.
        let audit = try await admin.get("/api/v1/audit?actor=admin")
        #expect((audit.object["entries"] as? [[String: Any]] ?? []).contains { $0["action"] as? String == "user_added" && $0["target"] as? String == "a-op" })
        await system.close()
    }

    @Test func missingExpiredAndTamperedTokensAreRefusedSayingWhy() async throws {
        let system = try await APITestSystem()
        let client = APIClient(base: system.base)
        let anonymous = try await client.get("/api/v1/dags")
        try expectProblem(anonymous, 401, "unauthenticated", field: "Authorization")
        #expect(anonymous.header("www-authenticate")?.hasPrefix("Bearer") == true)
        #expect(try await client.get("/api/v1/health").status == 200)

        try await client.logIn("admin", system.adminPassword)
        #expect(try await client.get("/api/v1/dags").status == 200)
        let token = String(client.defaultHeaders.withLock { $0["Authorization"]! }.dropFirst("Bearer ".count))

        // Tampered: a payload naming another user, with the old signature.
        var parts = token.split(separator: ".").map(String.init)
        parts[1] = Data(#"{"exp":9999999999,"iat":0,"sub":"admin"}"#.utf8).base64EncodedString()
            .replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        let tampered = try await client.send("GET", "/api/v1/dags", headers: ["Authorization": "Bearer " + parts.joined(separator: ".")])
        try expectProblem(tampered, 401, "unauthenticated", field: "Authorization")
        #expect((tampered.object["detail"] as? String ?? "").contains("signature"))

        // Expired: the server's clock moves past the token's hour.
        system.clock.advance(by: 3601)
        let expired = try await client.get("/api/v1/dags")
        system.clock.advance(by: -3601)
        try expectProblem(expired, 401, "unauthenticated", field: "Authorization")
        #expect((expired.object["detail"] as? String ?? "").contains("expired"))
        #expect(try await client.get("/api/v1/dags").status == 200)
        await system.close()
    }

    @Test func aCookieWriteNeedsTheSessionsCSRFTokenAndABearerWriteDoesNot() async throws {
        let system = try await APITestSystem()
        let browser = APIClient(base: system.base)
        let session = try await browser.send("POST", "/api/v1/auth/session", json: ["username": "admin", "password": system.adminPassword])
        let cookie = try #require(session.header("set-cookie"))
        #expect(cookie.contains("HttpOnly"))
        #expect(cookie.contains("SameSite=Strict"))
        let csrf = try await browser.startSession("admin", system.adminPassword)

        #expect(try await browser.get("/api/v1/dags").status == 200, "reads need no CSRF token")
        let forged = try await browser.send("PATCH", "/api/v1/dags/other_pipeline", json: ["is_paused": true])
        try expectProblem(forged, 403, "csrf-token-missing", field: "X-CSRF-Token")
        let wrong = try await browser.send("PATCH", "/api/v1/dags/other_pipeline", json: ["is_paused": true], headers: ["X-CSRF-Token": "not-it"])
        try expectProblem(wrong, 403, "csrf-token-mismatch", field: "X-CSRF-Token")
        let right = try await browser.send("PATCH", "/api/v1/dags/other_pipeline", json: ["is_paused": true], headers: ["X-CSRF-Token": csrf])
        #expect(right.status == 200)
        let me = try await browser.get("/api/v1/auth/session")
        #expect(me.object["csrf_token"] as? String == csrf)

        let program = APIClient(base: system.base)
        try await program.logIn("admin", system.adminPassword)
        #expect(try await program.send("PATCH", "/api/v1/dags/other_pipeline", json: ["is_paused": false]).status == 200)

        let out = try await browser.send("DELETE", "/api/v1/auth/session", headers: ["X-CSRF-Token": csrf])
        #expect(out.status == 204)
        try expectProblem(try await browser.get("/api/v1/dags"), 401, "unauthenticated", field: "Cookie")
        await system.close()
    }

    @Test func repeatedFailedLoginsAreSlowedDown() async throws {
        let system = try await APITestSystem()
        let client = APIClient(base: system.base)
        for _ in 0..<3 {
            let wrong = try await client.send("POST", "/api/v1/auth/token", json: ["username": "admin", "password": "guess"])
            try expectProblem(wrong, 401, "unauthenticated", field: "password")
        }
        // Now even the right password waits: the answer says until when.
        let throttled = try await client.send("POST", "/api/v1/auth/token", json: ["username": "admin", "password": system.adminPassword])
        try expectProblem(throttled, 429, "login-throttled", field: "username")
        #expect(Int(throttled.header("retry-after") ?? "") ?? 0 >= 1)
        system.clock.advance(by: 2)
        let later = try await client.send("POST", "/api/v1/auth/token", json: ["username": "admin", "password": system.adminPassword])
        #expect(later.status == 201)
        await system.close()
    }
}
