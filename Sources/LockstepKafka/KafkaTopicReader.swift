import CRdKafka
import Foundation
import LockstepBus
import Logging

/// A bounded read of one topic on Kafka, without group membership or commits (replay, inspection).
public final class KafkaTopicReader: TopicReader {
    private let core: TopicReaderCore

    init(config: KafkaConfig, topic: String, from start: SeekTarget, to end: ReadEnd, logger: Logger) async throws {
        core = try TopicReaderCore(config: config, topic: topic, end: end, logger: logger)
        do {
            try await core.open(from: start)
        } catch {
            await core.loop.close(teardown: { _ in })
            throw error
        }
    }

    public func next() async throws -> BusRecord? { try await core.loop.next() }
    public func close() async { await core.loop.close(teardown: { _ in }) }
    deinit { core.loop.stop(teardown: { _ in }) }
}

/// The reader's handle: finds each partition's true end, assigns the range, and ends the read when
/// every partition reached its end (the loop's delegate).
final class TopicReaderCore: KafkaConsumerLoopDelegate, @unchecked Sendable {
    // Safe to share: `loop`, `topic`, `end` and `timeoutMs` are immutable (the loop is itself safe to
    // share); the rest is only used on the poll thread (`open` runs there as the first job, then
    // `accept`, `delivered` and `partitionEnded`).
    let loop: KafkaConsumerLoop
    let topic: String
    let end: ReadEnd
    private let timeoutMs: Int32
    /// Exclusive end offset of each partition still being read.
    private var stopAt: [Int32: Int64] = [:]
    /// The next offset expected on each partition: older records and end-of-partition events are left
    /// over from the end probe in `confirmEnds`, not news about this read.
    private var nextOffset: [Int32: Int64] = [:]
    private var skipBefore: [Int32: Int64] = [:]
    private var lastTimestamp: Int64?

    /// No group commits; EOF events because a watermark read at open can be wrong on some brokers.
    static let required = [
        "enable.auto.commit": "false",
        "enable.auto.offset.store": "false",
        "enable.partition.eof": "true",
    ]

    init(config: KafkaConfig, topic: String, end: ReadEnd, logger: Logger) throws {
        self.topic = topic
        self.end = end
        timeoutMs = Int32(clamping: config.requestTimeout.components.seconds * 1000)
        loop = KafkaConsumerLoop(config: config, logger: logger, label: "reader \(topic)")
        if case let .timestamp(date) = end { lastTimestamp = KafkaMessage.milliseconds(date) }
        var required = Self.required
        // librdkafka's consumer API needs a group id even for manual assignment; nothing joins or commits it.
        required["group.id"] = "lockstep-reader-\(UUID().uuidString.lowercased())"
        // No callbacks of its own: the plain context serves the handle's logs and errors.
        try loop.start(config: config, defaults: [:], required: required,
                       context: KafkaCallbackContext(logger: logger, servers: config.bootstrapServersList), delegate: self)
    }

    /// Finds the partitions and their current ends, then assigns each one from its start offset.
    func open(from start: SeekTarget) async throws {
        try await loop.thread.run { [self] in try assign(from: start) }
    }

    private func assign(from start: SeekTarget) throws {
        let handle = loop.handle!
        let context = "opening a reader on \(topic) (bootstrap servers \(loop.servers))"
        let partitions = try KafkaMetadata.partitions(of: topic, handle: handle, timeoutMs: timeoutMs, context: context)
        var watermarks: [Int32: (low: Int64, high: Int64)] = [:]
        for partition in partitions {
            var low: Int64 = 0, high: Int64 = 0
            let err = rd_kafka_query_watermark_offsets(handle, topic, partition, &low, &high, timeoutMs)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context: "\(context): partition \(partition)") }
            watermarks[partition] = (low, high)
        }
        for (p, end) in try confirmEnds(watermarks, context: context) { watermarks[p]!.high = end }
        var starts: [Int32: Int64] = [:]
        switch start {
        case .beginning:
            for (p, w) in watermarks { starts[p] = w.low }
        case .end:
            for (p, w) in watermarks { starts[p] = w.high }
        case let .offset(partition, offset):
            // Only the named partition moves; the others are read from their beginning.
            for (p, w) in watermarks { starts[p] = p == partition ? max(offset, w.low) : w.low }
        case let .timestamp(date):
            let ms = KafkaMessage.milliseconds(date)
            let tps = partitions.map { TopicPartition(topic: topic, partition: $0) }
            for (tp, offset) in try KafkaOffsetLookup.offsets(handle, for: tps, atOrAfter: ms, timeoutMs: timeoutMs, context: context) {
                let w = watermarks[tp.partition]!
                starts[tp.partition] = offset < 0 ? w.high : max(offset, w.low)
                skipBefore[tp.partition] = ms
            }
        }
        for (p, w) in watermarks {
            var stop = w.high
            if case let .offset(partition, offset) = end, partition == p { stop = min(stop, offset) }
            if starts[p]! < stop { stopAt[p] = stop }
            nextOffset[p] = starts[p]!
        }
        let list = PartitionList(stopAt.keys.sorted().map { (TopicPartition(topic: topic, partition: $0), starts[$0]!) })
        guard !list.isEmpty else { return loop.finish() }
        let err = rd_kafka_assign(handle, list.pointer)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context: context) }
        loop.assigned(Set(list.entries.map(\.tp)))
    }

    /// The true end of each non-empty partition: the watermark a broker reports can lag the records it
    /// stored (it has been seen to count a multi-record batch as one offset), so the last record before
    /// it is fetched to end-of-partition and the end is where that read stopped. On a broker whose
    /// watermark is exact this reads one record per partition.
    private func confirmEnds(_ watermarks: [Int32: (low: Int64, high: Int64)], context: String) throws -> [Int32: Int64] {
        let handle = loop.handle!
        let probed = watermarks.filter { $0.value.high > $0.value.low }
        guard !probed.isEmpty else { return [:] }
        var ends = probed.mapValues(\.high)
        var open = Set(probed.keys)
        let list = PartitionList(probed.map { (TopicPartition(topic: topic, partition: $0.key), $0.value.high - 1) })
        let err = rd_kafka_assign(handle, list.pointer)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context: context) }
        defer { _ = rd_kafka_assign(handle, nil) }
        let deadline = ContinuousClock.now + .milliseconds(Int(timeoutMs))
        while !open.isEmpty && ContinuousClock.now < deadline {
            guard let message = rd_kafka_consumer_poll(handle, 100) else { continue }
            defer { rd_kafka_message_destroy(message) }
            let partition = message.pointee.partition
            switch message.pointee.err {
            case RD_KAFKA_RESP_ERR_NO_ERROR:
                if let end = ends[partition] { ends[partition] = max(end, message.pointee.offset + 1) }
            case RD_KAFKA_RESP_ERR__PARTITION_EOF:
                open.remove(partition)
            default:
                continue
            }
        }
        if !open.isEmpty { loop.logger.debug("\(context): no end-of-partition for \(open.sorted()) in time; using the watermark") }
        return ends
    }

    // MARK: Poll thread (the loop's delegate)

    func shouldFetch(_ partition: TopicPartition) -> Bool { stopAt[partition.partition] != nil }

    func accept(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> BusRecord? {
        let partition = message.pointee.partition, offset = message.pointee.offset
        guard let stop = stopAt[partition], offset >= nextOffset[partition] ?? 0 else { return nil }
        nextOffset[partition] = offset + 1
        if offset >= stop {
            done(partition)
            return nil
        }
        let ms = KafkaMessage.timestampMilliseconds(message)
        var skip = false
        if let minimum = skipBefore[partition] {
            if ms < minimum { skip = true } else { skipBefore[partition] = nil }
        }
        if let lastTimestamp, ms > lastTimestamp { skip = true }
        if skip {
            if offset + 1 >= stop { done(partition) }
            return nil
        }
        return KafkaMessage.record(message, topic: topic)
    }

    /// The last record of a partition ends it only once it is in the buffer, never before.
    func delivered(_ records: [BusRecord]) {
        for record in records {
            if let stop = stopAt[record.position.partition], record.position.offset + 1 >= stop { done(record.position.partition) }
        }
    }

    /// Only an end at exactly the next expected offset counts: one further ahead is the probe's.
    func partitionEnded(_ partition: TopicPartition, at offset: Int64) {
        guard offset == nextOffset[partition.partition] else { return }
        done(partition.partition)
    }

    /// Stops fetching a partition that reached its end; the read ends with the last one.
    private func done(_ partition: Int32) {
        guard stopAt.removeValue(forKey: partition) != nil else { return }
        let list = PartitionList([(TopicPartition(topic: topic, partition: partition), Int64(RD_KAFKA_OFFSET_INVALID))])
        _ = rd_kafka_pause_partitions(loop.handle, list.pointer)
        if stopAt.isEmpty { loop.finish() }
    }
}
