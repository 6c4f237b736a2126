import Foundation
import LockstepCore

/// `noop`: succeeds with `{}`; a placeholder task or a join point.
struct NoopOperator: TaskOperator {
    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        OperatorResult(output: .emptyObject)
    }
}
