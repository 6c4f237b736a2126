import LockstepBus
import LockstepDrivers

/// What a component depends on that can be away for a while and come back by itself.
public enum Dependency: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case stateStore = "state store"
    case broker

    public var description: String { rawValue }
}

/// Which dependency an error says is away for now, or nil when trying again cannot fix it (a schema
/// newer than this release, a failed migration, a bad setting, a fenced producer): then a component
/// stops, with the cause, rather than retrying forever something that will fail forever.
enum TransientFailure {
    static func dependency(of error: any Error) -> Dependency? {
        switch error {
        case let error as StateStoreError: error.isRetryable ? .stateStore : nil
        // The components' only driver is the state store's database (HTTP failures are the operators'
        // and the alerter's, handled where they happen).
        case let error as DriverError: error.retryable ? .stateStore : nil
        case let error as any RetryableError: error.isRetryable ? .broker : nil
        default: nil
        }
    }
}
