import LockstepCore

/// A named set of operators a deployment loads as a whole: the generic operators every pipeline may
/// use, a customer's domain operators (the Noblestride pack), or the testing pack. `lockstep.yaml`
/// says which packs beyond the generic one a deployment loads (`packs:`).
public struct OperatorPack: Sendable {
    public var name: String
    public var operators: [String: any TaskOperator]
    /// Variables the pack's DAGs expect, used where neither the config file nor the environment sets them.
    public var variableDefaults: [String: String]
    /// Operators whose tasks run on another queue than `tasks` unless their DAG file says `queue:`.
    public var defaultQueues: [String: TaskQueue]

    public init(
        name: String, operators: [String: any TaskOperator], variableDefaults: [String: String] = [:],
        defaultQueues: [String: TaskQueue] = [:]
    ) {
        self.name = name
        self.operators = operators
        self.variableDefaults = variableDefaults
        self.defaultQueues = defaultQueues
    }

    /// What any pipeline may use: a program (`command`), a SQL transaction (`sql`), an HTTP request
    /// (`http`), health checks, PostgreSQL counts, and `noop` (a join point).
    public static let generic = OperatorPack(name: "generic", operators: [
        "command": CommandOperator(),
        "sql": SQLOperator(),
        "http": HTTPOperator(),
        "http_health_check": HTTPHealthCheckOperator(),
        "multi_health_check": MultiHealthCheckOperator(),
        "postgres_counts": PostgresCountsOperator(),
        "table_summary": TableSummaryOperator(),
        "noop": NoopOperator(),
    ])

    /// `sleep` and `fail`, for tests, benchmarks and trying out retries; loaded only when listed.
    public static let testing = OperatorPack(name: "testing", operators: [
        "sleep": SleepOperator(),
        "fail": FailOperator(),
    ])
}
