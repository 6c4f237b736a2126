import Foundation
import LockstepCore
import LockstepOperators
import LockstepServices

/// Counts calls per key, for operators that fail a number of times or must run once.
actor FlakyCounter {
    private var calls: [String: Int] = [:]
    func next(_ key: String) -> Int {
        calls[key, default: 0] += 1
        return calls[key]!
    }
    func count(_ key: String) -> Int { calls[key] ?? 0 }
}

/// Fails its first `failures` calls per task, then succeeds.
struct FlakyOperator: TaskOperator {
    let counter: FlakyCounter
    let failures: Int
    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        let call = await counter.next("\(context.runID)/\(context.taskID)")
        if call <= failures { throw OperatorError(.unavailable, "flaky call \(call)", retryable: true) }
        return OperatorResult(output: ["calls": .int(Int64(call))])
    }
}

/// A latch the test opens: an attempt waiting on it runs exactly until the test says.
actor Gate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func open() {
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters = []
    }

    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }
}

/// Counts calls, then runs until the test opens `gate`: still running while a duplicate command arrives.
struct CountedWait: TaskOperator {
    let counter: FlakyCounter
    let gate: Gate
    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        _ = await counter.next("\(context.runID)/\(context.taskID)")
        await gate.wait()
        return OperatorResult(output: ["napped": true])
    }
}

/// Never finishes on its own and ignores its deadline: only the worker's watchdog, a timeout or a
/// cancellation ends it (the hung call that `timeout:` exists for).
struct HangOperator: TaskOperator {
    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        // Nothing is ever yielded: the loop ends when the task is cancelled, and not before.
        let (stream, continuation) = AsyncStream<Never>.makeStream()
        for await _ in stream {}
        continuation.finish()
        throw OperatorError(.cancelled, "\(context.taskID) was stopped", retryable: true)
    }
}

func task(_ id: String, _ op: String = "noop", after: [String] = [], params: [String: JSONValue] = [:], pool: String? = nil,
          retries: Int = 0, delay: Duration = .milliseconds(50), timeout: Duration? = nil) -> TaskSpec {
    TaskSpec(id: id, operator: op, params: params, upstream: after, pool: pool, retry: RetryPolicy(retries: retries, delay: delay), timeout: timeout)
}
