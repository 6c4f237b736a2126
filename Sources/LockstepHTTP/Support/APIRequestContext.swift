import Hummingbird
import Logging
import NIOCore

/// The per-request context: Hummingbird's core storage plus the body limit and the peer address
/// (the login throttle counts failures per user name and client address).
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: String
    /// The limit every route's body is read against; larger bodies get 413.
    public var maxUploadSize: Int { APIRequestContext.bodyLimit }

    /// 1 MiB: far above any conf or replay request, small enough that a flood of large bodies costs little.
    public static let bodyLimit = 1 << 20

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}
