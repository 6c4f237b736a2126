import Foundation

/// A pipeline: tasks, their dependencies and the policies that govern its runs (an Airflow DAG).
public struct DagSpec: Sendable, Hashable, Codable {
    public var id: String
    public var description: String
    public var owner: String
    /// Cron expression (five fields or a macro such as `@daily`); nil means triggered only.
    public var schedule: String?
    /// IANA time zone the schedule is read in.
    public var timezone: String
    public var catchup: Bool
    public var startDate: Date?
    public var maxActiveRuns: Int
    public var paused: Bool
    public var tags: [String]
    /// DAG ids whose successful runs trigger a run of this DAG (the event-driven ExternalTaskSensor).
    public var triggerOn: [String]
    /// Run configuration accepted from a trigger, checked before a run is created.
    public var params: [String: ParamSpec]
    /// Tasks in declaration order.
    public var tasks: [TaskSpec]

    public init(
        id: String, description: String = "", owner: String = "lockstep", schedule: String? = nil,
        timezone: String = "UTC", catchup: Bool = false, startDate: Date? = nil, maxActiveRuns: Int = 16,
        paused: Bool = false, tags: [String] = [], triggerOn: [String] = [], params: [String: ParamSpec] = [:],
        tasks: [TaskSpec]
    ) {
        self.id = id
        self.description = description
        self.owner = owner
        self.schedule = schedule
        self.timezone = timezone
        self.catchup = catchup
        self.startDate = startDate
        self.maxActiveRuns = maxActiveRuns
        self.paused = paused
        self.tags = tags
        self.triggerOn = triggerOn
        self.params = params
        self.tasks = tasks
    }

    public func task(_ id: String) -> TaskSpec? { tasks.first { $0.id == id } }

    /// Tasks that no other task depends on: their outcome decides the run's outcome.
    public var leafTaskIDs: [String] {
        let upstreamOfSomething = Set(tasks.flatMap(\.upstream))
        return tasks.map(\.id).filter { !upstreamOfSomething.contains($0) }
    }

    /// Every task that `taskID` transitively depends on, in declaration order.
    public func ancestors(of taskID: String) -> [String] {
        var seen = Set<String>()
        var stack = task(taskID)?.upstream ?? []
        while let next = stack.popLast() {
            guard seen.insert(next).inserted else { continue }
            stack.append(contentsOf: task(next)?.upstream ?? [])
        }
        return tasks.map(\.id).filter(seen.contains)
    }
}

/// One step of a pipeline.
public struct TaskSpec: Sendable, Hashable, Codable {
    public var id: String
    /// Operator name, e.g. `http_health_check`; resolved by the operator registry.
    public var `operator`: String
    public var params: [String: JSONValue]
    public var upstream: [String]
    public var triggerRule: TriggerRule
    public var pool: String?
    public var retry: RetryPolicy
    /// Limit on one attempt's execution (Airflow's execution_timeout); nil means none.
    public var timeout: Duration?
    public var dependsOnPast: Bool
    /// The workers that run its attempts; nil: its operator's default queue.
    public var queue: TaskQueue?

    public init(
        id: String, operator: String, params: [String: JSONValue] = [:], upstream: [String] = [],
        triggerRule: TriggerRule = .allSuccess, pool: String? = nil, retry: RetryPolicy = .none,
        timeout: Duration? = nil, dependsOnPast: Bool = false, queue: TaskQueue? = nil
    ) {
        self.id = id
        self.operator = `operator`
        self.params = params
        self.upstream = upstream
        self.triggerRule = triggerRule
        self.pool = pool
        self.retry = retry
        self.timeout = timeout
        self.dependsOnPast = dependsOnPast
        self.queue = queue
    }
}

/// When a task may run, given its upstream tasks' outcomes (Airflow's trigger rules).
public enum TriggerRule: String, Sendable, Hashable, Codable, CaseIterable {
    case allSuccess = "all_success"
    case allFailed = "all_failed"
    case allDone = "all_done"
    case oneSuccess = "one_success"
    case oneFailed = "one_failed"
    case noneFailed = "none_failed"
    case always = "always"
}

/// A declared run parameter: its type and whether a trigger must supply it.
public struct ParamSpec: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case string, integer, number, boolean, object, array
    }
    public var type: Kind
    public var required: Bool
    public var `default`: JSONValue?
    public var description: String

    public init(type: Kind, required: Bool = false, default: JSONValue? = nil, description: String = "") {
        self.type = type
        self.required = required
        self.default = `default`
        self.description = description
    }
}
