import Foundation
import LockstepCore

/// `sleep`: waits `seconds`, or fails with a timeout at the deadline (tests and benchmarks).
struct SleepOperator: TaskOperator {
    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        let params = try Params(context)
        let wanted = try params.seconds("seconds", default: 1)
        let left = context.deadline - ContinuousClock.now
        do { try await Task.sleep(for: min(wanted, max(left, .zero))) } catch {
            throw OperatorError(.cancelled, "sleep in \(params.origin) was cancelled", retryable: true)
        }
        guard wanted <= left else {
            throw OperatorError(.timeout, "task \(params.origin) slept until its deadline, short of \(wanted.seconds) s", retryable: true)
        }
        return OperatorResult(output: ["slept_seconds": .double(wanted.seconds)])
    }
}

/// `fail`: fails with `message`, retryable as the `retryable` param says (default true).
struct FailOperator: TaskOperator {
    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        let params = try Params(context)
        throw OperatorError(.failed, try params.string("message") ?? "task \(params.origin) failed on purpose",
                            retryable: try params.bool("retryable", default: true))
    }
}
