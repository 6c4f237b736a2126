import Foundation

/// The embedded durable log: topics, partitions and consumer groups in one SQLite file, for
/// `lockstep standalone` and tests.
///
/// - Durability: `publish` returns after the transaction holding the records is fsynced (WAL,
///   `synchronous=FULL`); an acknowledged record survives `kill -9` and power loss.
/// - Wake-up: a publish wakes consumers of the same file in this process at once. Records appended
///   by another process (e.g. `lockstep trigger` into a running standalone) are noticed within a
///   few milliseconds on Linux, where the kernel reports writes to the file (`EmbeddedLogFileWatcher`),
///   and elsewhere by a poll every `foreignWritePollInterval` (100 ms).
/// - Groups: members in this process share a group's partitions and rebalance when one joins or
///   closes. Members in different processes on one file do not coordinate: each process assigns the
///   group's partitions among its own members only, so run one consuming process per group.
/// - Offsets: committed offsets are the next offset to read (Kafka's convention).
/// - Topics: a publish or subscribe to a missing topic creates it with `defaultPartitions`.
public final class EmbeddedBus: EventBus {
    /// The log file's name inside the data directory.
    public static let fileName = "events.sqlite"

    public let fileURL: URL
    let log: EmbeddedLog
    private let state = EmbeddedLocked(State())

    private struct State {
        var closed = false
        var consumers: [ObjectIdentifier: EmbeddedGroupConsumer] = [:]
    }

    /// Opens (creating if needed) the log in `directory`.
    public init(directory: URL, configuration: EmbeddedBusConfiguration = EmbeddedBusConfiguration()) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        fileURL = directory.appendingPathComponent(Self.fileName).standardizedFileURL.resolvingSymlinksInPath()
        log = try EmbeddedLogRegistry.shared.acquire(path: fileURL.path, configuration: configuration)
    }

    public func createTopic(_ name: String, partitions: Int) async throws {
        try await log.createTopic(name, partitions: partitions)
    }

    public func listTopics() async throws -> [TopicInfo] {
        try await log.listTopics()
    }

    @discardableResult
    public func publish(_ records: [OutgoingRecord]) async throws -> [RecordPosition] {
        try await log.publish(records)
    }

    public func subscribe(group: String, topics: [String]) async throws -> any GroupConsumer {
        if state.withLock({ $0.closed }) { throw EmbeddedBusError.closed(path: fileURL.path) }
        let consumer = try await EmbeddedGroupConsumer.join(log: log, group: group, topics: topics) { [state] consumer in
            state.withLock { _ = $0.consumers.removeValue(forKey: ObjectIdentifier(consumer)) }
        }
        state.withLock { $0.consumers[ObjectIdentifier(consumer)] = consumer }
        return consumer
    }

    public func read(topic: String, from start: SeekTarget, to end: ReadEnd) async throws -> any TopicReader {
        guard let partitions = try await log.listTopics().first(where: { $0.name == topic })?.partitions else {
            throw EmbeddedBusError.unknownTopic(topic)
        }
        return try EmbeddedTopicReader(path: log.path, topic: topic, partitions: partitions, from: start, to: end,
                                       batchSize: log.configuration.fetchBatchSize)
    }

    public func committedOffsets(group: String, topic: String) async throws -> [Int32: Int64] {
        try await log.committedOffsets(group: group, topic: topic)
    }

    /// Deletes records that the retention policies no longer keep; returns how many. Also runs by
    /// itself every `retentionInterval`.
    @discardableResult
    public func applyRetention(now: Date = Date()) async throws -> Int {
        try await log.applyRetention(now: now)
    }

    /// Closes this bus's consumers (they leave their groups) and, if it is the last bus on the file in
    /// this process, the file.
    public func close() async {
        let consumers: [EmbeddedGroupConsumer]? = state.withLock { state in
            if state.closed { return nil }
            state.closed = true
            return Array(state.consumers.values)
        }
        guard let consumers else { return }
        for consumer in consumers { await consumer.close() }
        await EmbeddedLogRegistry.shared.release(log)
    }
}

/// A value behind a lock, for the little mutable bookkeeping of otherwise immutable Sendable classes.
final class EmbeddedLocked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only reached through `withLock`.
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
