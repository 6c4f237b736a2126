/// Which workers run a task's attempts: the workers' command topic, or the notifier's. A task names
/// it with `queue:` in its DAG file; without one, its operator's pack says (the notification
/// operators declare `notifications`), and otherwise it is `tasks`.
public enum TaskQueue: String, Sendable, Hashable, Codable, CaseIterable {
    /// `lockstep.tasks.commands`, run by `lockstep worker`.
    case tasks
    /// `lockstep.notifications`, run by `lockstep notifier`, which dead-letters a notification that failed for good.
    case notifications
}
