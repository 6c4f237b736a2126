import Foundation
import LockstepCore
import LockstepOperators
import LockstepTestSupport
import Testing

@Suite("command: real programs in their own process groups")
struct CommandOperatorTests {
    @Test("the JSON written to $LOCKSTEP_OUTPUT is the output; context variables and upstream inputs are handed over")
    func outputAndContext() async throws {
        let script = #"""
            inputs=$(cat "$LOCKSTEP_INPUTS")
            printf '{"dag":"%s","run":"%s","task":"%s","try":%s,"date":"%s","inputs":%s,"greeting":"%s","pwd":"%s"}' \
              "$LOCKSTEP_DAG_ID" "$LOCKSTEP_RUN_ID" "$LOCKSTEP_TASK_ID" "$LOCKSTEP_TRY_NUMBER" "$LOCKSTEP_LOGICAL_DATE" \
              "$inputs" "$GREETING" "$(pwd)" > "$LOCKSTEP_OUTPUT"
            echo done
            """#
        let attempt = try LoggedAttempt(dag: "d", task: "make", run: "r-1", tryNumber: 2, params: [
            "argv": .string(script), "shell": true, "env": ["GREETING": "hello {{ upstream.extract.name }}"],
        ], upstream: ["extract": ["name": "world", "n": 3]])
        let (result, lines) = await attempt.run("command")
        let output = try result.get().output
        #expect(output["dag"] == "d")
        #expect(output["run"] == "r-1")
        #expect(output["task"] == "make")
        #expect(output["try"] == 2)
        #expect(output["date"] == "2025-09-18T02:00:00.000Z")
        #expect(output["inputs"] == ["extract": ["name": "world", "n": 3]])
        #expect(output["greeting"] == "hello world")
        let pwd = try #require(output["pwd"]?.stringValue)
        #expect(pwd.hasSuffix("/attempts/d,r-1,make,try-2"), "a fresh directory per attempt: \(pwd)")
        #expect(!FileManager.default.fileExists(atPath: pwd), "removed once the attempt ended")
        let attempts = attempt.context.dataDirectory.appendingPathComponent("attempts")
        let files = FileManager.default
        let tidy = await eventually {
            (try? files.contentsOfDirectory(atPath: attempts.path)) == ["%trash"]
                && (try? files.contentsOfDirectory(atPath: attempts.appendingPathComponent("%trash").path)) == []
        }
        #expect(tidy, "no folders left behind: \((try? files.subpathsOfDirectory(atPath: attempts.path)) ?? [])")
        #expect(try !result.get().isSkipped)
        #expect(lines.contains { $0.stream == .stdout && $0.text == "done" })
        #expect(lines.first?.stream == .operator && lines.first?.text.hasPrefix("running /bin/sh -c") == true)
        #expect(lines.last.map { $0.text.contains("exited 0 after") } == true)
        #expect(lines.map(\.seq) == Array(1...lines.count), "numbered 1… without gaps")
    }

    @Test("argv runs without a shell: words are passed as they are, never re-split")
    func argvWithoutShell() async throws {
        let attempt = try LoggedAttempt(params: ["argv": ["/usr/bin/printf", "%s|", "two words", "$HOME", 7]])
        let (result, lines) = await attempt.run("command")
        _ = try result.get()
        #expect(lines.contains { $0.stream == .stdout && $0.text == "two words|$HOME|7|" })
    }

    @Test("the environment is minimal unless inherit_env, and never carries the worker's LOCKSTEP_ variables")
    func minimalEnvironment() async throws {
        setenv("LOCKSTEP_TESTONLY_SECRET", "postgresql://u:worker-secret@h/db", 1)
        setenv("LOCKSTEP_TEST_INHERITED", "visible-when-inherited", 1)
        setenv("PLAIN_TEST_INHERITED", "plain", 1)
        defer { unsetenv("LOCKSTEP_TESTONLY_SECRET"); unsetenv("LOCKSTEP_TEST_INHERITED"); unsetenv("PLAIN_TEST_INHERITED") }
        let minimal = try LoggedAttempt(params: ["argv": ["/usr/bin/env"]])
        let (r1, minimalLines) = await minimal.run("command")
        _ = try r1.get()
        let names = Set(minimalLines.filter { $0.stream == .stdout }.compactMap { $0.text.split(separator: "=").first.map(String.init) })
        #expect(names == ["PATH", "HOME", "LANG", "LOCKSTEP_DAG_ID", "LOCKSTEP_RUN_ID", "LOCKSTEP_TASK_ID", "LOCKSTEP_TRY_NUMBER",
                          "LOCKSTEP_LOGICAL_DATE", "LOCKSTEP_OUTPUT", "LOCKSTEP_INPUTS", "LOCKSTEP_WORKDIR"])

        let inherited = try LoggedAttempt(params: ["argv": ["/usr/bin/env"], "inherit_env": true])
        let (r2, inheritedLines) = await inherited.run("command")
        _ = try r2.get()
        let text = inheritedLines.map(\.text).joined(separator: "\n")
        #expect(text.contains("PLAIN_TEST_INHERITED=plain"))
        #expect(!text.contains("LOCKSTEP_TEST_INHERITED"))
        #expect(!text.contains("worker-secret"))
    }

    @Test("exit 99 (skip_exit_code) asks for the task to be skipped, keeping what it wrote")
    func skipExitCode() async throws {
        let attempt = try LoggedAttempt(params: ["argv": #"echo '{"why":"nothing new"}' > "$LOCKSTEP_OUTPUT"; exit 99"#, "shell": true])
        let (result, _) = await attempt.run("command")
        let r = try result.get()
        #expect(r.isSkipped)
        #expect(r.skipReason?.contains("99") == true)
        #expect(r.output == ["why": "nothing new"])

        let other = try LoggedAttempt(params: ["argv": "exit 7", "shell": true, "skip_exit_code": 7])
        #expect(try await other.run("command").0.get().isSkipped)
    }

    @Test("exit 3 fails with the last stderr lines and the output in the cause; retry_exit_codes decides the retry hint")
    func failureCause() async throws {
        let script = #"for i in $(seq 1 30); do echo "err line $i" >&2; done; echo '{"partial":true}' > "$LOCKSTEP_OUTPUT"; exit 3"#
        let attempt = try LoggedAttempt(params: ["argv": .string(script), "shell": true])
        let (result, lines) = await attempt.run("command")
        guard case .failure(let error) = result else { Issue.record("expected failure"); return }
        #expect(error.category == .failed)
        #expect(error.retryable, "without retry_exit_codes every failing exit may be retried")
        #expect(error.message.contains("exited 3"))
        #expect(error.message.contains("err line 30"))
        #expect(error.message.contains("err line 11"))
        #expect(!error.message.contains("err line 10\n"), "only the last 20 lines")
        #expect(error.message.contains(#"{"partial":true}"#))
        #expect(lines.filter { $0.stream == .stderr }.count == 30, "every stderr line is in the task log")

        let listed = try LoggedAttempt(params: ["argv": "exit 3", "shell": true, "retry_exit_codes": [75, 3]])
        guard case .failure(let e2) = await listed.run("command").0 else { Issue.record("expected failure"); return }
        #expect(e2.retryable)
        let unlisted = try LoggedAttempt(params: ["argv": "exit 3", "shell": true, "retry_exit_codes": [75]])
        guard case .failure(let e3) = await unlisted.run("command").0 else { Issue.record("expected failure"); return }
        #expect(!e3.retryable)
    }

    @Test("a program that is not there fails at once, as a config error that no retry can fix")
    func programNotFound() async throws {
        for argv: JSONValue in [["no-such-program-lockstep"], ["/opt/none/no-such-program"], ["./missing.sh"]] {
            let attempt = try LoggedAttempt(params: ["argv": argv])
            guard case .failure(let error) = await attempt.run("command").0 else { Issue.record("expected failure"); continue }
            #expect(error.category == .config, "\(error)")
            #expect(!error.retryable)
            #expect(error.message.contains("not found"), "\(error.message)")
        }
        let script = try TestPaths.temporaryDirectory("lockstep-bad-interp").appendingPathComponent("job.sh")
        try Data("#!/no/such/interpreter\necho hi\n".utf8).write(to: script)
        chmod(script.path, 0o755)
        guard case .failure(let error) = await (try LoggedAttempt(params: ["argv": [.string(script.path)]])).run("command").0 else {
            Issue.record("expected failure"); return
        }
        #expect(error.category == .config)
        #expect(error.message.contains("interpreter"), "\(error.message)")
    }

    @Test("output over output_limit is refused, naming the cap; output that is not a JSON object too")
    func outputLimit() async throws {
        let big = try LoggedAttempt(params: [
            "argv": #"printf '{"blob":"%0300d"}' 0 > "$LOCKSTEP_OUTPUT""#, "shell": true, "output_limit": 256,
        ])
        guard case .failure(let error) = await big.run("command").0 else { Issue.record("expected failure"); return }
        #expect(error.category == .badResponse)
        #expect(!error.retryable)
        #expect(error.message.contains("output_limit"))
        #expect(error.message.contains("256 bytes"))

        let fits = try LoggedAttempt(params: [
            "argv": #"printf '{"blob":"%0200d"}' 0 > "$LOCKSTEP_OUTPUT""#, "shell": true, "output_limit": "1KiB",
        ])
        #expect(try await fits.run("command").0.get().output["blob"]?.stringValue?.count == 200)

        let list = try LoggedAttempt(params: ["argv": #"echo '[1,2]' > "$LOCKSTEP_OUTPUT""#, "shell": true])
        guard case .failure(let e2) = await list.run("command").0 else { Issue.record("expected failure"); return }
        #expect(e2.message.contains("JSON object"))
    }

    /// A child that ignores SIGTERM and a grandchild that sleeps; their pids land in `pidFile`.
    private static func stubbornScript(_ pidFile: URL) -> String {
        #"trap '' TERM; sleep 1000 & echo "$$ $!" > "\#(pidFile.path).tmp"; mv "\#(pidFile.path).tmp" "\#(pidFile.path)"; wait"#
    }

    private static func pids(_ file: URL) throws -> [pid_t] {
        let text = try String(contentsOf: file, encoding: .utf8)
        return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { pid_t(String($0)) }
    }

    @Test("at the deadline a child ignoring SIGTERM and its sleeping grandchild are killed, and neither is left")
    func timeoutKillsTheGroup() async throws {
        let pidFile = try TestPaths.temporaryDirectory("lockstep-pids").appendingPathComponent("pids")
        let attempt = try LoggedAttempt(params: ["argv": .string(Self.stubbornScript(pidFile)), "shell": true, "kill_grace": 0.5],
                                        timeout: .seconds(5))
        let (result, lines) = await attempt.run("command")
        guard case .failure(let error) = result else { Issue.record("expected a timeout"); return }
        #expect(error.category == .timeout)
        #expect(error.retryable)
        #expect(error.message.contains("SIGKILL"), "SIGTERM was ignored, so SIGKILL was needed: \(error.message)")
        let pids = try Self.pids(pidFile)
        #expect(pids.count == 2)
        for pid in pids { #expect(processIsGone(pid), "pid \(pid) outlived its task") }
        #expect(lines.contains { $0.stream == .operator && $0.text.contains("SIGKILL") })
    }

    @Test("cancelling the attempt stops the whole group the same way")
    func cancellationKillsTheGroup() async throws {
        let pidFile = try TestPaths.temporaryDirectory("lockstep-pids").appendingPathComponent("pids")
        let attempt = try LoggedAttempt(params: ["argv": .string(Self.stubbornScript(pidFile)), "shell": true, "kill_grace": 0.5])
        let running = Task { await runOperator("command", attempt.context) }
        // Generous: on a busy two-core machine other suites' blocking setup can starve the cooperative pool.
        let started = await eventually(timeout: .seconds(60)) { FileManager.default.fileExists(atPath: pidFile.path) }
        guard started else {
            running.cancel()
            Issue.record("the script never wrote its pids; the operator returned \(await running.value)")
            return
        }
        let pids = try Self.pids(pidFile)
        #expect(pids.count == 2)
        for pid in pids { #expect(!processIsGone(pid), "pid \(pid) runs before the cancel") }
        running.cancel()
        guard case .failure(let error) = await running.value else { Issue.record("expected a cancellation"); return }
        #expect(error.category == .cancelled, "\(error)")
        for pid in pids { #expect(processIsGone(pid), "pid \(pid) outlived its cancelled task") }
    }

    @Test("a program that exits leaving a background process behind succeeds with a warning; the process is stopped")
    func straysAreStopped() async throws {
        let pidFile = try TestPaths.temporaryDirectory("lockstep-pids").appendingPathComponent("pids")
        let attempt = try LoggedAttempt(params: [
            "argv": .string(#"sleep 1000 & echo "$!" > "\#(pidFile.path)"; echo '{"ok":true}' > "$LOCKSTEP_OUTPUT""#),
            "shell": true, "kill_grace": 2,
        ])
        let result = try await attempt.run("command").0.get()
        #expect(result.output == ["ok": true])
        #expect(result.warnings.contains { $0.contains("left processes running") })
        let pid = try #require(try Self.pids(pidFile).first)
        #expect(processIsGone(pid))
    }

    @Test("a connection URI handed over in env is masked in stdout, stderr, the error and the output")
    func secretsAreMasked() async throws {
        let secret = "Pw-\(UInt32.random(in: 0...UInt32.max))-x"
        let uri = "postgresql://loader:\(secret)@127.0.0.1:5432/warehouse"
        let script = #"""
            echo "connecting to $DATABASE_URL"
            p=${DATABASE_URL#postgresql://loader:}; p=${p%%@*}
            echo "the password is $p" >&2
            printf '{"url":"%s","password":"%s"}' "$DATABASE_URL" "$p" > "$LOCKSTEP_OUTPUT"
            exit "$CODE"
            """#
        for code in ["0", "3"] {
            let attempt = try LoggedAttempt(params: [
                "argv": .string(script), "shell": true, "env": ["DATABASE_URL": "{{ conn.warehouse }}", "CODE": .string(code)],
            ], connections: ["warehouse": uri])
            let (result, lines) = await attempt.run("command")
            var reported = lines.map(\.text)
            switch result {
            case .success(let r): reported.append(r.output.canonicalJSON())
            case .failure(let e): reported += [e.description, e.json.canonicalJSON()]
            }
            for text in reported { #expect(!text.contains(secret), "secret leaked: \(text)") }
            #expect(lines.contains { $0.stream == .stdout && $0.text == "connecting to postgresql://loader@127.0.0.1:5432/warehouse" })
            #expect(lines.contains { $0.stream == .stderr && $0.text == "the password is ***" })
            if code == "0" {
                #expect(try result.get().output == ["url": "postgresql://loader@127.0.0.1:5432/warehouse", "password": "***"])
            } else {
                guard case .failure(let error) = result else { Issue.record("expected failure"); continue }
                #expect(error.message.contains("the password is ***"))
            }
        }
    }

    @Test("100,000 lines are read without stalling the program; the log keeps its cap and ends with one truncation marker")
    func manyLines() async throws {
        let attempt = try LoggedAttempt(params: ["argv": "seq 1 100000; seq 1 100000 >&2", "shell": true])
        let (result, lines) = await attempt.run("command")
        _ = try result.get()
        let limit = TaskLog.Limits().maxLines
        #expect(lines.count == limit + 1)
        #expect(lines.map(\.seq) == Array(1...(limit + 1)))
        let marker = try #require(lines.last)
        #expect(marker.stream == .operator)
        #expect(marker.text.contains("log truncated"))
        #expect(lines.dropLast().filter { $0.text.contains("log truncated") }.isEmpty, "exactly one marker")
        let stdout = lines.filter { $0.stream == .stdout }.map(\.text)
        #expect(stdout.count > limit - 10)
        #expect(stdout == (1...stdout.count).map(String.init), "stdout lines in order, none lost before the cap")
        let summary = await attempt.log.finish()
        #expect(summary.truncated)
        #expect(summary.dropped >= 200_000 - limit)
    }

    @Test("attempt folders: one level, ids encoded so none climbs out or passes for another, long ones hashed")
    func attemptFolderNames() throws {
        func name(_ dag: String, _ run: String, _ task: String) throws -> String {
            AttemptDirectory(try makeContext(dag: dag, task: task, run: run)).url.lastPathComponent
        }
        #expect(try name("d", "d@2025-09-18T02:00:00Z", "t") == "d,d@2025-09-18T02%3A00%3A00Z,t,try-1")
        #expect(try name("d", "../../etc", "t") == "d,..%2F..%2Fetc,t,try-1")
        #expect(try name("a,b", "c", "t") != (try name("a", "b,c", "t")))
        let long = try name("d", String(repeating: "r", count: 400), "t")
        #expect(long.utf8.count <= 255)
        #expect(long != (try name("d", String(repeating: "r", count: 399), "t")))
        #expect(long.hasSuffix(",try-1"))
    }

    @Test("bad params are config errors naming the param")
    func badParams() async throws {
        let cases: [([String: JSONValue], String)] = [
            ([:], "argv"),
            (["argv": "echo hi"], "shell: true"),
            (["argv": ["echo"], "skip_exit_code": 300], "skip_exit_code"),
            (["argv": ["echo"], "retry_exit_codes": [99]], "skip_exit_code"),
            (["argv": ["echo"], "output_limit": "lots"], "output_limit"),
            (["argv": ["echo"], "env": ["LOCKSTEP_OUTPUT": "/etc/passwd"]], "LOCKSTEP_OUTPUT"),
            (["argv": ["echo"], "cwd": "/no/such/dir"], "cwd"),
        ]
        for (params, needle) in cases {
            guard case .failure(let error) = await (try LoggedAttempt(params: params)).run("command").0 else {
                Issue.record("expected failure for \(params)"); continue
            }
            #expect(error.category == .config, "\(params): \(error)")
            #expect(error.message.contains(needle), "\(params): \(error.message)")
        }
    }
}
