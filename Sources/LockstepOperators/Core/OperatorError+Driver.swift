import LockstepDrivers

extension OperatorError {
    /// A driver's failure as the attempt's: same category, message and retry hint.
    public init(_ error: DriverError) {
        self.init(error.category, error.message, retryable: error.retryable)
    }
}

/// Runs driver work inside an operator, reporting its failures as the operator's own.
public func driving<T>(_ body: () async throws(DriverError) -> T) async throws(OperatorError) -> T {
    do { return try await body() } catch { throw OperatorError(error) }
}
