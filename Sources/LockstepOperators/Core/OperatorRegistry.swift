import LockstepCore

/// Operator names, as written in DAG files, mapped to their implementations.
public struct OperatorRegistry: Sendable {
    private var operators: [String: any TaskOperator]

    public init(_ operators: [String: any TaskOperator] = [:]) {
        self.operators = operators
    }

    /// Every operator Lockstep ships.
    public static let builtin = OperatorRegistry([
        "http_health_check": HTTPHealthCheckOperator(),
        "multi_health_check": MultiHealthCheckOperator(),
        "postgres_counts": PostgresCountsOperator(),
        "table_summary": TableSummaryOperator(),
        "preprocess": PreprocessOperator(),
        "train_model": TrainModelOperator(),
        "notify_training_complete": NotifyTrainingCompleteOperator(),
        "sync_fastapi": SyncFastAPIOperator(),
        "integration_report": IntegrationReportOperator(),
        "noop": NoopOperator(),
        "sleep": SleepOperator(),
        "fail": FailOperator(),
    ])

    /// The names the DAG loader accepts.
    public var names: Set<String> { Set(operators.keys) }

    public subscript(name: String) -> (any TaskOperator)? { operators[name] }

    /// A copy with `op` registered under `name` (tests and plug-ins).
    public func registering(_ name: String, _ op: any TaskOperator) -> OperatorRegistry {
        var copy = self
        copy.operators[name] = op
        return copy
    }

    /// Runs the operator named `name`, turning an unknown name or an escaped cancellation into an `OperatorError`.
    public func run(_ name: String, _ context: OperatorContext) async -> Result<OperatorResult, OperatorError> {
        guard let op = operators[name] else {
            return .failure(.config("unknown operator '\(name)' for task \(context.dagID).\(context.taskID)"))
        }
        do {
            return .success(try await op.run(context))
        } catch {
            return .failure(error)
        }
    }
}
