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
    // share); `range` is only used on the poll thread (`open` runs there as the first job, then
    // `accept`, `delivered` and `partitionEnded`).
    let loop: KafkaConsumerLoop
    let topic: String
    let end: ReadEnd
    private let timeoutMs: Int32
    private var range = ReadRange()

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
        var timeOffsets: [Int32: Int64] = [:]
        if case let .timestamp(date) = start {
            let tps = partitions.map { TopicPartition(topic: topic, partition: $0) }
            let ms = KafkaMessage.milliseconds(date)
            for (tp, offset) in try KafkaOffsetLookup.offsets(handle, for: tps, atOrAfter: ms, timeoutMs: timeoutMs, context: context) {
                timeOffsets[tp.partition] = offset
            }
        }
        range = ReadRange(watermarks: watermarks, from: start, to: end, timeOffsets: timeOffsets)
        let list = PartitionList(range.assignment.map { (TopicPartition(topic: topic, partition: $0.partition), $0.offset) })
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

    func shouldFetch(_ partition: TopicPartition) -> Bool { range.isReading(partition.partition) }

    func accept(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> BusRecord? {
        let partition = message.pointee.partition
        switch range.polled(partition: partition, offset: message.pointee.offset,
                            timestamp: KafkaMessage.timestampMilliseconds(message)) {
        case .deliver:
            return KafkaMessage.record(message, topic: topic)
        case .skip:
            return nil
        case .skipAndEnd:
            ended(partition)
            return nil
        }
    }

    func delivered(_ records: [BusRecord]) {
        for record in records where range.delivered(partition: record.position.partition, offset: record.position.offset) {
            ended(record.position.partition)
        }
    }

    func partitionEnded(_ partition: TopicPartition, at offset: Int64) {
        if range.reachedEnd(partition: partition.partition, at: offset) { ended(partition.partition) }
    }

    /// Stops fetching a partition that reached its end; the read ends with the last one.
    private func ended(_ partition: Int32) {
        let list = PartitionList([(TopicPartition(topic: topic, partition: partition), Int64(RD_KAFKA_OFFSET_INVALID))])
        _ = rd_kafka_pause_partitions(loop.handle, list.pointer)
        if range.isFinished { loop.finish() }
    }
}
