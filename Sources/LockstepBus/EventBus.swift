import Foundation

/// A log of records in topics and partitions: the one protocol both the embedded SQLite log and Kafka
/// implement, and that every component talks to. Delivery is at-least-once: a consumer commits a
/// record's position only after the effect of handling it is durable.
public protocol EventBus: Sendable {
    /// Creates the topic if it is missing; an existing topic is left as it is.
    func createTopic(_ name: String, partitions: Int) async throws
    func listTopics() async throws -> [TopicInfo]
    /// Appends records; returns once every one is durable (acknowledged by all in-sync replicas on
    /// Kafka, committed to disk on the embedded log), with the position each was written at.
    @discardableResult
    func publish(_ records: [OutgoingRecord]) async throws -> [RecordPosition]
    /// Joins `group` as a member consuming `topics`. Partitions are shared among the group's members;
    /// a new group starts at the earliest offset, an existing one at its committed offsets.
    func subscribe(group: String, topics: [String]) async throws -> any GroupConsumer
    /// Reads a range of one topic without joining a group (replay, inspection): from `start` up to the
    /// end that the log has when the reader opens, or to `end` if that comes first.
    func read(topic: String, from start: SeekTarget, to end: ReadEnd) async throws -> any TopicReader
    /// The committed offset of `group` on each partition of `topic` (nil where none is committed).
    func committedOffsets(group: String, topic: String) async throws -> [Int32: Int64]
    func close() async
}

extension EventBus {
    @discardableResult
    public func publish(_ record: OutgoingRecord) async throws -> RecordPosition {
        try await publish([record])[0]
    }
}

/// A member of a consumer group. One reading loop per consumer (`next`, `nextBatch`, `seek`); `commit`
/// may also come from another task, as the components commit offsets in the background.
public protocol GroupConsumer: Sendable {
    /// The next record, waiting for one to arrive; nil once the consumer is closed. Back-pressure is
    /// the caller's pace: nothing is fetched far ahead of what was asked for.
    func next() async throws -> BusRecord?
    /// Waits for the next record like `next()`, then adds records already fetched, up to `max`, without
    /// waiting for more: lets a consumer handle a burst in one transaction. Empty once closed.
    func nextBatch(max: Int) async throws -> [BusRecord]
    /// Marks everything up to and including `position` on its partition as handled.
    func commit(_ position: RecordPosition) async throws
    /// Moves this member's reading position on the partitions it holds (and on ones it is assigned later).
    func seek(_ target: SeekTarget) async throws
    /// Leaves the group; records handled but not committed are delivered again to whoever takes over.
    func close() async
}

extension GroupConsumer {
    public func nextBatch(max: Int) async throws -> [BusRecord] {
        guard let record = try await next() else { return [] }
        return [record]
    }

    /// The consumed records as an `AsyncSequence`, for `for try await record in consumer.records`.
    public var records: GroupConsumerRecords { GroupConsumerRecords(consumer: self) }
}

extension GroupConsumer {
    /// The consumed records in bursts of up to `max` (see `nextBatch`), as an `AsyncSequence`.
    public func batches(max: Int) -> GroupConsumerBatches { GroupConsumerBatches(consumer: self, max: max) }
}

public struct GroupConsumerBatches: AsyncSequence, Sendable {
    public typealias Element = [BusRecord]
    let consumer: any GroupConsumer
    let max: Int
    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: any GroupConsumer
        let max: Int
        public mutating func next() async throws -> [BusRecord]? {
            let batch = try await consumer.nextBatch(max: max)
            return batch.isEmpty ? nil : batch
        }
    }
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(consumer: consumer, max: max) }
}

public struct GroupConsumerRecords: AsyncSequence, Sendable {
    public typealias Element = BusRecord
    let consumer: any GroupConsumer
    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: any GroupConsumer
        public mutating func next() async throws -> BusRecord? { try await consumer.next() }
    }
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(consumer: consumer) }
}

/// A bounded read of one topic; `next()` returns nil at the end of the range.
public protocol TopicReader: Sendable {
    func next() async throws -> BusRecord?
    func close() async
}

extension TopicReader {
    /// Every record left in the range.
    public func readAll() async throws -> [BusRecord] {
        var all: [BusRecord] = []
        while let record = try await next() { all.append(record) }
        await close()
        return all
    }
}

/// Where to start (or move) reading.
public enum SeekTarget: Sendable, Hashable {
    case beginning
    case end
    /// An exact position on one partition; other partitions are unaffected.
    case offset(partition: Int32, offset: Int64)
    /// The first record at or after this time on every partition. Brokers whose offset-for-time lookup
    /// is imprecise are tolerated: records older than the time are skipped.
    case timestamp(Date)
}

/// Where a bounded read stops.
public enum ReadEnd: Sendable, Hashable {
    /// The end of each partition as it is when the reader opens.
    case latest
    /// Records at or after this offset on `partition` are not read; other partitions read to latest.
    case offset(partition: Int32, offset: Int64)
    /// Records with a timestamp after this time are not read.
    case timestamp(Date)
}

public struct TopicInfo: Sendable, Hashable {
    public var name: String
    public var partitions: Int
    public init(name: String, partitions: Int) {
        self.name = name
        self.partitions = partitions
    }
}

/// A header's value is bytes; CloudEvents attributes travel as UTF-8 `ce_*` headers.
public struct BusHeader: Sendable, Hashable {
    public var name: String
    public var value: [UInt8]
    public init(_ name: String, _ value: [UInt8]) {
        self.name = name
        self.value = value
    }
    public init(_ name: String, _ value: String) {
        self.init(name, Array(value.utf8))
    }
    public var stringValue: String { String(decoding: value, as: UTF8.self) }
}

/// A record to append. Records with the same key land on the same partition, in order.
public struct OutgoingRecord: Sendable, Hashable {
    public var topic: String
    public var key: String?
    public var value: [UInt8]
    public var headers: [BusHeader]
    /// Defaults to the time of publishing.
    public var timestamp: Date?
    public init(topic: String, key: String?, value: [UInt8], headers: [BusHeader] = [], timestamp: Date? = nil) {
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }
}

public struct RecordPosition: Sendable, Hashable, Codable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
    public var description: String { "\(topic)[\(partition)]@\(offset)" }
}

/// A record as read from the log.
public struct BusRecord: Sendable, Hashable {
    public var position: RecordPosition
    public var key: String?
    public var value: [UInt8]
    public var headers: [BusHeader]
    public var timestamp: Date
    public init(position: RecordPosition, key: String?, value: [UInt8], headers: [BusHeader], timestamp: Date) {
        self.position = position
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }
    public var topic: String { position.topic }
    public func header(_ name: String) -> BusHeader? { headers.first { $0.name == name } }
}
