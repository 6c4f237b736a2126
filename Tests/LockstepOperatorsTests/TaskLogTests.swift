import Foundation
import LockstepCore
import LockstepOperators
import LockstepTestSupport
import Logging
import Testing

/// A sink that records each batch as it came, and can refuse the first `failures` calls.
private actor RecordingSink: TaskLogSink {
    var batches: [[TaskLogLine]] = []
    var calls = 0
    private var failures: Int

    init(failures: Int = 0) { self.failures = failures }

    func append(_ lines: [TaskLogLine], attempt: AttemptID) async throws {
        calls += 1
        if failures > 0 {
            failures -= 1
            throw TestSupportError("store unavailable")
        }
        batches.append(lines)
    }

    var lines: [TaskLogLine] { batches.flatMap { $0 } }
}

@Suite("Task logs: numbering, masking, caps and batching")
struct TaskLogTests {
    private let attempt = AttemptID(runID: "r", taskID: "t", tryNumber: 1)

    @Test("lines are numbered from 1 in order, split at newlines, and sent in batches no larger than batchLines")
    func numberingAndBatches() async throws {
        let sink = RecordingSink()
        let log = TaskLog(attempt: attempt, sink: sink, limits: TaskLog.Limits(batchLines: 100))
        for i in 1...1000 { log.write("line \(i)", stream: i.isMultiple(of: 2) ? .stderr : .stdout) }
        log.info("two\nlines")
        let summary = await log.finish()
        let lines = await sink.lines
        #expect(lines.map(\.seq) == Array(1...1002))
        #expect(lines[0].text == "line 1" && lines[0].stream == .stdout)
        #expect(lines[1].stream == .stderr)
        #expect(lines.suffix(2).map(\.text) == ["two", "lines"])
        #expect(lines.last?.stream == .operator)
        #expect(await sink.batches.allSatisfy { $0.count <= 100 })
        #expect(summary == TaskLog.Summary(written: 1002, dropped: 0, truncated: false, failedBatches: 0, lastSinkError: nil))
        log.write("after finish", stream: .stdout)
        #expect(await log.finish().dropped == 1, "a line after finish is dropped, not sent")
    }

    @Test("a line reaches the sink within the flush interval, without waiting for finish")
    func flushesInTheBackground() async throws {
        let sink = InMemoryTaskLogSink()
        let log = TaskLog(attempt: attempt, sink: sink)
        log.write("hello", stream: .stdout)
        var seen: [TaskLogLine] = []
        // Generous: a loaded test run can starve this task for seconds; the line must come before finish.
        let deadline = ContinuousClock.now + .seconds(60)
        while seen.isEmpty && ContinuousClock.now < deadline {
            seen = await sink.lines(for: attempt)
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(seen.map(\.text) == ["hello"])
        await log.finish()
    }

    @Test("connection passwords and URIs and secret-named variables are masked; others are not")
    func masking() async throws {
        let sink = InMemoryTaskLogSink()
        let log = TaskLog(attempt: attempt, sink: sink)
        let context = OperatorContext(
            dagID: "d", runID: "r", taskID: "t", logicalDate: seedLogicalDate,
            variables: ["API_TOKEN": "tkn-12345", "REGION": "eu-west-1", "HOOK": "https://bot:hook-pw-9@hooks.example/x"],
            connections: ["db": "postgresql://app:p%40ss-w0rd@db.internal:5432/sales?sslmode=require&password=qpw-777"],
            deadline: .now + .seconds(5), dataDirectory: URL(fileURLWithPath: "/tmp"), reportsDirectory: URL(fileURLWithPath: "/tmp"),
            log: log)
        context.log.write("url postgresql://app:p%40ss-w0rd@db.internal:5432/sales?sslmode=require&password=qpw-777 end", stream: .stdout)
        context.log.write("decoded p@ss-w0rd raw p%40ss-w0rd query qpw-777", stream: .stderr)
        context.log.write("token tkn-12345 region eu-west-1 hook hook-pw-9", stream: .stdout)
        await log.finish()
        let texts = await sink.lines(for: attempt).map(\.text)
        #expect(texts == [
            "url postgresql://app@db.internal:5432/sales end",
            "decoded *** raw *** query ***",
            "token *** region eu-west-1 hook ***",
        ])
        #expect(context.secrets.apply(OperatorError(.failed, "pw p@ss-w0rd", retryable: false)).message == "pw ***")
    }

    @Test("a keyword-form connection string's password is masked too")
    func keywordConnectionString() {
        let mask = SecretMask(connections: ["db": "host=db.internal user=app password=kw-Secret-1 dbname=sales"])
        #expect(mask.apply("dsn host=db.internal user=app password=kw-Secret-1 dbname=sales") == "dsn <redacted>")
        #expect(mask.apply("retrying with kw-Secret-1") == "retrying with ***")
    }

    @Test("past the line cap or the byte cap: one marker line, the rest counted as dropped; long lines are cut")
    func caps() async throws {
        let sink = InMemoryTaskLogSink()
        let log = TaskLog(attempt: attempt, sink: sink, limits: TaskLog.Limits(maxLines: 1_000_000, maxBytes: 100, maxLineBytes: 30))
        log.write(String(repeating: "x", count: 50), stream: .stdout)
        for _ in 0..<10 { log.write("0123456789", stream: .stdout) }
        let summary = await log.finish()
        let lines = await sink.lines(for: attempt)
        #expect(lines.first?.text == String(repeating: "x", count: 30) + "… [20 more bytes cut]")
        #expect(lines.last?.text.contains("log truncated") == true)
        #expect(lines.filter { $0.text.contains("log truncated") }.count == 1)
        #expect(summary.truncated)
        #expect(summary.written == lines.count)
        #expect(summary.dropped == 11 - (lines.count - 1))
    }

    @Test("a sink that fails once is retried; one that keeps failing loses its batch, counted, and never blocks the attempt")
    func sinkFailures() async throws {
        let flaky = RecordingSink(failures: 1)
        let log = TaskLog(attempt: attempt, sink: flaky)
        log.write("survives a blip", stream: .stdout)
        #expect(await log.finish().failedBatches == 0)
        #expect(await flaky.lines.map(\.text) == ["survives a blip"])

        let down = RecordingSink(failures: 1000)
        let lost = TaskLog(attempt: attempt, sink: down)
        lost.write("lost", stream: .stdout)
        let summary = await lost.finish()
        #expect(summary.failedBatches == 1)
        #expect(summary.lastSinkError?.contains("store unavailable") == true)
    }

    @Test("the operator's swift-log lines (taskLogger) land in the task log without the attempt's identity")
    func loggerBridge() async throws {
        let sink = InMemoryTaskLogSink()
        let log = TaskLog(attempt: attempt, sink: sink)
        let context = OperatorContext(
            dagID: "d", runID: "r", taskID: "t", logicalDate: seedLogicalDate,
            connections: ["db": "postgresql://u:bridge-pw@h/db"], deadline: .now + .seconds(5),
            dataDirectory: URL(fileURLWithPath: "/tmp"), reportsDirectory: URL(fileURLWithPath: "/tmp"), log: log)
        context.taskLogger.info("counted tables", metadata: ["tables": "5"])
        context.taskLogger.warning("retrying with bridge-pw")
        context.taskLogger.debug("too chatty for the task log")
        await log.finish()
        #expect(await sink.lines(for: attempt).map(\.text) == ["counted tables tables=5", "warning: retrying with ***"])
    }

    @Test("without a sink the log keeps nothing and costs nothing")
    func discarding() async {
        let log = TaskLog.discarding(attempt)
        #expect(!log.isRecording)
        log.write("nobody hears this", stream: .stdout)
        #expect(await log.finish().written == 0)
    }
}
