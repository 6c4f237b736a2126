/// Every topic Lockstep reads or writes, with the partition counts it creates them with.
/// `topics/asyncapi.yaml` documents the same list for producers and consumers outside this project.
public struct Topics: Sendable, Hashable {
    public var prefix: String

    public init(prefix: String = "lockstep.") { self.prefix = prefix }

    /// Cron firings, from the scheduler. Key: DAG id.
    public var scheduleTicks: String { prefix + "schedule.ticks" }
    /// Run requests from producers, the CLI, replays, backfills and upstream DAGs. Key: DAG id.
    public var runRequests: String { prefix + "runs.requests" }
    /// Pause, unpause, cancel, replay, redrive: the ops audit trail, also read by the coordinator. Key: DAG or run id.
    public var ops: String { prefix + "ops" }
    /// Task attempts for workers. Key: run id.
    public var taskCommands: String { prefix + "tasks.commands" }
    /// Attempts of notification operators (the training-complete POST), for the notifier. Key: run id.
    public var notifications: String { prefix + "notifications" }
    /// Attempt results from workers and timer firings from the coordinator. Key: run id.
    public var taskResults: String { prefix + "tasks.results" }
    /// Run and task lifecycle events for subscribers. Key: run id.
    public var runEvents: String { prefix + "runs.events" }
    /// Health check results. Key: service name.
    public var healthResults: String { prefix + "health.results" }
    /// Trained model announcements. Key: model type.
    public var modelEvents: String { prefix + "models.events" }
    /// Everything that could not be handled, with the reason. Key: the original record's key.
    public var deadLetters: String { prefix + "deadletters" }

    /// Topic → partitions, for `createTopic` at start. Coordinator inputs are single-partition so one
    /// coordinator sees one order; worker topics are wider so workers scale by consumer group.
    public var all: [(name: String, partitions: Int)] {
        [
            (scheduleTicks, 1), (runRequests, 1), (ops, 1), (taskResults, 1), (taskCommands, 8), (notifications, 4),
            (runEvents, 4), (healthResults, 1), (modelEvents, 1), (deadLetters, 1),
        ]
    }

    /// What the coordinator consumes.
    public var coordinatorInputs: [String] { [scheduleTicks, runRequests, ops, taskResults] }
}
