import LockstepCore

/// CloudEvent `type` values, as documented in `topics/`.
public enum EventType {
    public static let scheduleTick = "lockstep.schedule.tick"
    public static let runRequested = "lockstep.run.requested"
    public static let attemptStarted = "lockstep.attempt.started"
    public static let attemptSucceeded = "lockstep.attempt.succeeded"
    public static let attemptFailed = "lockstep.attempt.failed"
    public static let attemptTimedOut = "lockstep.attempt.timed_out"
    public static let timerFired = "lockstep.timer.fired"
    public static let taskDispatched = "lockstep.task.dispatched"
    public static let attemptAbandoned = "lockstep.attempt.abandoned"
    public static let dagPaused = "lockstep.ops.dag_paused"
    public static let dagUnpaused = "lockstep.ops.dag_unpaused"
    public static let runCancelRequested = "lockstep.ops.run_cancel_requested"
    public static let healthResult = "lockstep.health.result"
    public static let modelTrained = "lockstep.model.trained"
    public static let deadLetter = "lockstep.deadletter"
    /// Lifecycle events: `lockstep.` + the kind's raw value, e.g. `lockstep.run.succeeded`.
    public static func lifecycle(_ kind: LifecycleEvent.Kind) -> String { "lockstep." + kind.rawValue }
}
