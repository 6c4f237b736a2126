import Foundation
import LockstepCore
import LockstepDrivers

extension Delivery {
    /// A delivery from a task's params: `url`, `timeout` (s), `max_attempts`, `backoff` (s).
    public init(_ params: Params, defaultAttempts: Int) throws(OperatorError) {
        self.init(url: try params.url("url"), timeout: try params.seconds("timeout", default: 30),
                  maxAttempts: max(1, try params.int("max_attempts", default: defaultAttempts)),
                  backoff: try params.seconds("backoff", default: 2))
    }

    /// Within a task attempt: tries stop at its deadline; failures are logged with its identity.
    public func post(_ payload: JSONValue, key: String, _ context: OperatorContext) async throws(OperatorError) -> Receipt {
        let timeout = self.timeout
        var delivery = self
        delivery.headers.merge(context.traceHeaders) { own, _ in own }
        return try await driving { () async throws(DriverError) in
            try await delivery.post(payload, key: key, deadline: context.deadline, logger: context.taskLogger) { () throws(DriverError) in
                do throws(OperatorError) { return try context.budget(cap: timeout) } catch {
                    throw DriverError(error.category, error.message, retryable: error.retryable)
                }
            }
        }
    }
}

extension Params {
    /// The param `name` as an http(s) URL, or a config error naming the param.
    public func url(_ name: String) throws(OperatorError) -> URL {
        try Self.url(try requiredString(name), param: name, origin: origin)
    }

    /// Parses an http(s) URL from a rendered param, or a config error naming the param.
    public static func url(_ text: String, param: String, origin: String) throws(OperatorError) -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              url.host != nil
        else {
            throw .config("task \(origin): param `\(param)` is not an http(s) URL: \(Redacted.uri(text))")
        }
        return url
    }
}
