import Foundation

/// Settings of an embedded log: partitions of auto-created topics, retention, polling and batching.
public struct EmbeddedBusConfiguration: Sendable, Hashable {
    /// Partitions of a topic created implicitly by a publish or a subscribe.
    public var defaultPartitions: Int = 1
    /// Retention for every topic without its own entry in `topicRetention`.
    public var retention: EmbeddedRetentionPolicy = .forever
    public var topicRetention: [String: EmbeddedRetentionPolicy] = [:]
    /// How often retention runs by itself while the log is open (nil: only when `applyRetention` is called).
    public var retentionInterval: Duration? = .seconds(60)
    /// How often waiting consumers look for records that another process appended to the same file.
    /// Appends from this process wake consumers at once; on Linux another process's appends do too,
    /// within a few milliseconds (`EmbeddedLogFileWatcher`), and this poll is the fallback.
    public var foreignWritePollInterval: Duration = .milliseconds(100)
    /// Records a consumer fetches from SQLite at once: its only read-ahead, so back-pressure is the caller's pace.
    public var fetchBatchSize: Int = 64

    public init() {}

    func retention(for topic: String) -> EmbeddedRetentionPolicy { topicRetention[topic] ?? retention }
}

/// What the embedded log keeps: records younger than `maxAge` and at most `maxRecordsPerPartition`
/// of the newest per partition (either limit may be absent).
public struct EmbeddedRetentionPolicy: Sendable, Hashable {
    public var maxAge: Duration?
    public var maxRecordsPerPartition: Int?

    public init(maxAge: Duration? = nil, maxRecordsPerPartition: Int? = nil) {
        self.maxAge = maxAge
        self.maxRecordsPerPartition = maxRecordsPerPartition
    }

    public static let forever = EmbeddedRetentionPolicy()
    var keepsEverything: Bool { maxAge == nil && maxRecordsPerPartition == nil }
}
