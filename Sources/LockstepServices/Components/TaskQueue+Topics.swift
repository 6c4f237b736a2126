import LockstepCore
import LockstepWire

extension Topics {
    /// The command topic the workers of `queue` consume.
    public func commands(for queue: TaskQueue) -> String {
        switch queue {
        case .tasks: taskCommands
        case .notifications: notifications
        }
    }
}
