/// Reads one DAG file (`config/dags/*.yaml`) into a `DagSpec`, checking its shape; `DagValidator`
/// then checks what the shape cannot (cycles, references to pools and operators, cron).
enum DagFile {
    static let dagKeys = [
        "id", "description", "schedule", "timezone", "catchup", "start_date", "max_active_runs", "paused", "tags",
        "trigger_on", "params", "default_args", "tasks",
    ]
    static let defaultArgKeys = [
        "owner", "depends_on_past", "retries", "retry_delay", "retry_exponential_backoff", "max_retry_delay", "timeout",
    ]
    static let taskKeys = [
        "id", "operator", "description", "params", "upstream", "trigger_rule", "pool", "retries", "retry_delay",
        "retry_exponential_backoff", "max_retry_delay", "timeout", "depends_on_past", "queue",
    ]
    static let paramKeys = ["type", "required", "default", "description"]

    /// Per-task settings a DAG's `default_args` can give every task.
    private struct Defaults {
        var owner = "lockstep"
        var dependsOnPast = false
        var retry = RetryPolicy.none
        var timeout: Duration?
    }

    static func parse(_ text: String, file: String) throws(ConfigError) -> DagSpec {
        let root = try YAMLNode.parse(text, file: file)
        try root.rejectUnknownKeys(dagKeys)
        let id = try root.required("id", fix: "give the DAG an id, e.g. `id: recommender_training_pipeline`").string()
        var defaults = Defaults()
        if let args = try root.optional("default_args") {
            try args.rejectUnknownKeys(defaultArgKeys)
            defaults.owner = try args.optional("owner")?.string() ?? defaults.owner
            defaults.dependsOnPast = try args.optional("depends_on_past")?.bool() ?? false
            defaults.retry = try retryPolicy(args, base: .none)
            defaults.timeout = try args.optional("timeout")?.duration()
        }
        let tasksNode = try root.required("tasks", fix: "list the DAG's tasks under `tasks:`, each with an id and an operator")
        var tasks: [TaskSpec] = []
        for node in try tasksNode.sequence() {
            tasks.append(try task(node, defaults: defaults))
        }
        if tasks.isEmpty {
            throw tasksNode.error("a DAG needs at least one task", fix: "add a task with an `id` and an `operator`")
        }
        var params: [String: ParamSpec] = [:]
        if let paramsNode = try root.optional("params") {
            for (name, node) in try paramsNode.mapping() { params[name] = try param(node) }
        }
        return DagSpec(
            id: id,
            description: try root.optional("description")?.string() ?? "",
            owner: defaults.owner,
            schedule: try root.optional("schedule")?.string(),
            timezone: try root.optional("timezone")?.string() ?? "UTC",
            catchup: try root.optional("catchup")?.bool() ?? false,
            startDate: try root.optional("start_date")?.date(),
            maxActiveRuns: try root.optional("max_active_runs")?.int(min: 1) ?? 16,
            paused: try root.optional("paused")?.bool() ?? false,
            tags: try root.optional("tags")?.strings() ?? [],
            triggerOn: try root.optional("trigger_on")?.strings() ?? [],
            params: params,
            tasks: tasks)
    }

    private static func task(_ node: YAMLNode, defaults: Defaults) throws(ConfigError) -> TaskSpec {
        try node.rejectUnknownKeys(taskKeys)
        let id = try node.required("id", fix: "give the task an id, e.g. `id: extract_data`").string()
        let op = try node.required("operator", fix: "name the operator that does the work, e.g. `operator: http_health_check`").string()
        var params: [String: JSONValue] = [:]
        if let p = try node.optional("params") {
            for (key, value) in try p.mapping() { params[key] = try value.json() }
        }
        var rule = TriggerRule.allSuccess
        if let ruleNode = try node.optional("trigger_rule") {
            let text = try ruleNode.string()
            guard let parsed = TriggerRule(rawValue: text) else {
                throw ruleNode.error(
                    "unknown trigger rule `\(text)`",
                    fix: "use one of \(TriggerRule.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            rule = parsed
        }
        var queue: TaskQueue?
        if let queueNode = try node.optional("queue") {
            let text = try queueNode.string()
            guard let parsed = TaskQueue(rawValue: text) else {
                throw queueNode.error(
                    "unknown queue `\(text)`",
                    fix: "use one of \(TaskQueue.allCases.map(\.rawValue).joined(separator: ", ")), or leave `queue` out for the operator's default")
            }
            queue = parsed
        }
        return TaskSpec(
            id: id, operator: op, params: params,
            upstream: try node.optional("upstream")?.strings() ?? [],
            triggerRule: rule,
            pool: try node.optional("pool")?.string(),
            retry: try retryPolicy(node, base: defaults.retry),
            timeout: try node.optional("timeout")?.duration() ?? defaults.timeout,
            dependsOnPast: try node.optional("depends_on_past")?.bool() ?? defaults.dependsOnPast,
            queue: queue)
    }

    private static func retryPolicy(_ node: YAMLNode, base: RetryPolicy) throws(ConfigError) -> RetryPolicy {
        var policy = base
        if let n = try node.optional("retries") { policy.retries = try n.int(min: 0) }
        if let n = try node.optional("retry_delay") { policy.delay = try n.duration() }
        if let n = try node.optional("retry_exponential_backoff") { policy.exponentialBackoff = try n.bool() }
        if let n = try node.optional("max_retry_delay") { policy.maxDelay = try n.duration() }
        return policy
    }

    private static func param(_ node: YAMLNode) throws(ConfigError) -> ParamSpec {
        try node.rejectUnknownKeys(paramKeys)
        let typeNode = try node.required("type", fix: "declare the parameter's type: \(ParamSpec.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        let typeText = try typeNode.string()
        guard let kind = ParamSpec.Kind(rawValue: typeText) else {
            throw typeNode.error("unknown parameter type `\(typeText)`", fix: "use one of \(ParamSpec.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return ParamSpec(
            type: kind, required: try node.optional("required")?.bool() ?? false,
            default: try node.optional("default")?.json(),
            description: try node.optional("description")?.string() ?? "")
    }
}
