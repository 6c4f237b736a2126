import CRdKafka
import Foundation
import LockstepBus
import Logging

/// A consumer-group member on Kafka: explicit commits, cooperative rebalancing, seeks that also apply to
/// partitions assigned later.
public final class KafkaGroupConsumer: GroupConsumer {
    private let core: GroupConsumerCore

    init(config: KafkaConfig, group: String, topics: [String], logger: Logger) throws {
        core = try GroupConsumerCore(config: config, group: group, topics: topics, logger: logger)
    }

    public func next() async throws -> BusRecord? { try await core.loop.next() }
    public func nextBatch(max: Int) async throws -> [BusRecord] { try await core.loop.nextBatch(max: max) }
    public func commit(_ position: RecordPosition) async throws { try await core.commit(position) }
    public func seek(_ target: SeekTarget) async throws { try await core.seek(target) }
    public func close() async { await core.loop.close(teardown: GroupConsumerCore.leave) }
    /// How often this member paused fetching because its reader fell behind.
    var fetchPauses: Int { core.loop.fetchPauses }

    /// A member dropped without `close()` still leaves the group instead of holding its partitions.
    deinit { core.loop.stop(teardown: GroupConsumerCore.leave) }
}

/// The group member's handle: the callback context its rebalances and commit answers reach, and the
/// delegate of the loop that polls it.
final class GroupConsumerCore: KafkaCallbackContext, KafkaConsumerLoopDelegate, @unchecked Sendable {
    // Safe to share: `group`, `topics`, `timeoutMs` and `loop` are immutable (the loop is itself safe to
    // share); every other property is only used on the poll thread (rebalance callbacks, `accept`, and
    // the jobs `commit`/`seek` enqueue).
    let loop: KafkaConsumerLoop
    let group: String
    let topics: [String]
    private let timeoutMs: Int32
    /// The last `seek`, for partitions assigned after it.
    private var standingSeek: SeekTarget?
    /// Partitions the standing seek has already moved (a partition is moved once per `seek` call).
    private var seekApplied: Set<TopicPartition> = []
    /// Commits waiting for the coordinator, by the id passed to librdkafka as their opaque.
    private var commits: [UInt: PendingCommit] = [:]
    private var nextCommit: UInt = 0
    /// Partitions this member committed since the last `seek`: their position no longer depends on it.
    private var committedSinceSeek: Set<TopicPartition> = []
    /// Timestamp seeks: records older than this are skipped, until the first one at or after it passes.
    private var skipBefore: [TopicPartition: Int64] = [:]

    /// What the at-least-once contract rests on; a user property cannot change these.
    static let required = [
        "enable.auto.commit": "false",
        "enable.auto.offset.store": "false",
        "auto.offset.reset": "earliest",
    ]
    static let defaults = ["partition.assignment.strategy": "cooperative-sticky"]

    init(config: KafkaConfig, group: String, topics: [String], logger: Logger) throws {
        self.group = group
        self.topics = topics
        timeoutMs = Int32(clamping: config.requestTimeout.components.seconds * 1000)
        loop = KafkaConsumerLoop(config: config, logger: logger, label: "group \(group)")
        super.init(logger: logger, servers: config.bootstrapServersList)
        var required = Self.required
        required["group.id"] = group
        try loop.start(config: config, defaults: Self.defaults, required: required, context: self, delegate: self) { conf in
            rd_kafka_conf_set_rebalance_cb(conf, rebalanceCallback)
        }
        let list = PartitionList(topics.map { (TopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA), Int64(0)) })
        let err = rd_kafka_subscribe(loop.handle, list.pointer)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            let error = KafkaError(err, context: "subscribing group \(group) to \(topics.joined(separator: ", "))")
            loop.stop(teardown: { _ in })  // never joined: nothing to leave
            throw error
        }
    }

    /// Leaves the group (serving the final revoke on this thread) before the handle is destroyed.
    static let leave: @Sendable (OpaquePointer) -> Void = { handle in
        _ = rd_kafka_consumer_close(handle)
        (KafkaCallbackContext.from(rd_kafka_opaque(handle)) as? GroupConsumerCore)?.failPendingCommits()
    }

    // MARK: Commit

    func commit(_ position: RecordPosition) async throws {
        let context = "committing \(position) for group \(group) (bootstrap servers \(servers))"
        let tp = TopicPartition(topic: position.topic, partition: position.partition)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            loop.thread.enqueue { [self] in
                guard let handle = loop.liveHandle else {
                    return continuation.resume(throwing: KafkaError(RD_KAFKA_RESP_ERR__DESTROY, message: "the consumer is closed", context: context))
                }
                repeat { nextCommit &+= 1 } while nextCommit == 0 || commits[nextCommit] != nil
                let id = nextCommit
                commits[id] = PendingCommit(continuation: continuation, context: context, partition: tp)
                let list = PartitionList([(tp, position.offset + 1)])
                // Asynchronous, answered on the consumer queue this thread polls: a synchronous commit
                // would stop the poll loop, and librdkafka may hold a commit until a rebalance that
                // needs this very loop has finished.
                let err = rd_kafka_commit_queue(handle, list.pointer, loop.queue, commitCallback, UnsafeMutableRawPointer(bitPattern: id))
                if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    commits[id] = nil
                    continuation.resume(throwing: KafkaError(err, context: context))
                }
            }
        }
    }

    /// The coordinator's answer to one commit. Poll thread.
    fileprivate func committed(id: UInt, _ err: rd_kafka_resp_err_t, _ offsets: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        guard let pending = commits.removeValue(forKey: id) else { return }
        let failed = PartitionList.entries(offsets).first { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }?.error
        if let error = err != RD_KAFKA_RESP_ERR_NO_ERROR ? err : failed {
            pending.continuation.resume(throwing: KafkaError(error, context: pending.context))
        } else {
            committedSinceSeek.insert(pending.partition)
            pending.continuation.resume()
        }
    }

    /// Commits still unanswered when the handle goes away fail (their records will be delivered again).
    func failPendingCommits() {
        let left = commits
        commits.removeAll()
        for pending in left.values {
            pending.continuation.resume(throwing: KafkaError(RD_KAFKA_RESP_ERR__DESTROY, message: "the consumer closed first", context: pending.context))
        }
    }

    // MARK: Seek

    func seek(_ target: SeekTarget) async throws {
        try await loop.thread.run { [self] in
            guard let handle = loop.liveHandle else {
                throw KafkaError(RD_KAFKA_RESP_ERR__DESTROY, message: "the consumer is closed", context: "seeking group \(group)")
            }
            standingSeek = target
            seekApplied = []
            committedSinceSeek = []
            let moves = try positions(for: target, on: loop.assignment)
            guard !moves.isEmpty else { return }
            seekApplied.formUnion(moves.map(\.0))
            // Drops their buffered records and resumes a paused fetch before seeking: librdkafka resumes
            // a paused partition at the application's last position, which would undo the seek.
            loop.seeking(Set(moves.map(\.0)))
            let list = PartitionList(moves)
            if let error = rd_kafka_seek_partitions(handle, list.pointer, timeoutMs) {
                throw KafkaError(consuming: error, context: "seeking group \(group) to \(target)")
            }
            if let failed = list.entries.first(where: { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }) {
                throw KafkaError(failed.error, context: "seeking \(failed.tp) of group \(group) to \(target)")
            }
        }
    }

    /// Where `target` puts each of `partitions` it concerns (logical offsets for beginning/end).
    private func positions(for target: SeekTarget, on partitions: Set<TopicPartition>) throws -> [(TopicPartition, Int64)] {
        let sorted = partitions.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
        switch target {
        case .beginning:
            sorted.forEach { skipBefore[$0] = nil }
            return sorted.map { ($0, Int64(RD_KAFKA_OFFSET_BEGINNING)) }
        case .end:
            // The end as of this call: librdkafka resolves a logical END only when the fetcher restarts,
            // so a record published right after `seek` returned could otherwise be skipped.
            sorted.forEach { skipBefore[$0] = nil }
            return try sorted.map { tp in
                var low: Int64 = 0, high: Int64 = 0
                let err = rd_kafka_query_watermark_offsets(loop.handle, tp.topic, tp.partition, &low, &high, timeoutMs)
                if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context: "seeking group \(group) to the end of \(tp)") }
                return (tp, high)
            }
        case let .offset(partition, offset):
            let moved = sorted.filter { $0.partition == partition }
            moved.forEach { skipBefore[$0] = nil }
            return moved.map { ($0, offset) }
        case let .timestamp(date):
            guard !sorted.isEmpty else { return [] }
            let ms = KafkaMessage.milliseconds(date)
            let offsets = try KafkaOffsetLookup.offsets(loop.handle, for: sorted, atOrAfter: ms, timeoutMs: timeoutMs,
                                                         context: "seeking group \(group) to \(date)")
            sorted.forEach { skipBefore[$0] = ms }
            return offsets
        }
    }

    // MARK: Poll thread

    func accept(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> BusRecord? {
        if !skipBefore.isEmpty {
            let tp = TopicPartition(topic: loop.topicName(message), partition: message.pointee.partition)
            if let minimum = skipBefore[tp] {
                // Some brokers answer offset 0 for every time lookup; the timestamps themselves are exact.
                if KafkaMessage.timestampMilliseconds(message) < minimum { return nil }
                skipBefore[tp] = nil
            }
        }
        return loop.record(message)
    }

    fileprivate func rebalance(_ handle: OpaquePointer, _ err: rd_kafka_resp_err_t,
                               _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE"
        let partitions = Set(PartitionList.entries(list).map(\.tp))
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            applyStandingSeek(to: list, partitions: partitions)
            if cooperative {
                if let error = rd_kafka_incremental_assign(handle, list) {
                    logger.error("\(KafkaError(consuming: error, context: "assigning \(partitions) to group \(group)"))")
                }
            } else {
                loop.unassigned(loop.assignment)
                let err = rd_kafka_assign(handle, list)
                if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    logger.error("\(KafkaError(err, context: "assigning \(partitions) to group \(group)"))")
                }
            }
            loop.assigned(partitions)
            logger.debug("group \(group) assigned \(partitions.sorted { $0.description < $1.description })")
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            // Buffered records of revoked partitions go back: the new owner reads them from the commit.
            loop.unassigned(partitions)
            partitions.forEach { skipBefore[$0] = nil }
            // A partition that comes back before anything was committed would restart from the old
            // commit; the seek still applies to it then.
            seekApplied.subtract(partitions.subtracting(committedSinceSeek))
            if cooperative {
                if let error = rd_kafka_incremental_unassign(handle, list) {
                    logger.error("\(KafkaError(consuming: error, context: "revoking \(partitions) from group \(group)"))")
                }
            } else {
                _ = rd_kafka_assign(handle, nil)
            }
            logger.debug("group \(group) revoked \(partitions.sorted { $0.description < $1.description })")
        default:
            logger.warning("group \(group) rebalance failed: \(String(cString: rd_kafka_err2str(err))); rejoining")
            loop.unassigned(loop.assignment)
            _ = rd_kafka_assign(handle, nil)
        }
    }

    /// Writes start offsets for a pending seek into the assignment list librdkafka is about to apply.
    private func applyStandingSeek(to list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>,
                                   partitions: Set<TopicPartition>) {
        guard let target = standingSeek else { return }
        let fresh = partitions.subtracting(seekApplied)
        guard !fresh.isEmpty else { return }
        let moves: [(TopicPartition, Int64)]
        do {
            moves = try positions(for: target, on: fresh)
        } catch {
            // The time lookup failed: start at the beginning and let the timestamp filter skip older records.
            logger.warning("group \(group): \(error); reading \(fresh) from the beginning, skipping older records")
            moves = fresh.map { ($0, Int64(RD_KAFKA_OFFSET_BEGINNING)) }
        }
        let wanted = Dictionary(moves, uniquingKeysWith: { first, _ in first })
        for i in 0..<Int(list.pointee.cnt) {
            let element = list.pointee.elems[i]
            let tp = TopicPartition(topic: String(cString: element.topic), partition: element.partition)
            if let offset = wanted[tp] { list.pointee.elems[i].offset = offset }
        }
        seekApplied.formUnion(moves.map(\.0))
    }
}

private struct PendingCommit {
    let continuation: CheckedContinuation<Void, Error>
    let context: String
    let partition: TopicPartition
}

private let commitCallback: @convention(c) (
    OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, UnsafeMutableRawPointer?
) -> Void = { handle, err, offsets, opaque in
    guard let handle, let core = KafkaCallbackContext.from(rd_kafka_opaque(handle)) as? GroupConsumerCore else { return }
    core.committed(id: UInt(bitPattern: opaque), err, offsets)
}

private let rebalanceCallback: @convention(c) (
    OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, UnsafeMutableRawPointer?
) -> Void = { handle, err, list, opaque in
    guard let handle, let list, let opaque else { return }
    Unmanaged<GroupConsumerCore>.fromOpaque(opaque).takeUnretainedValue().rebalance(handle, err, list)
}

/// Offset-for-time lookups, shared by the group consumer and the reader.
enum KafkaOffsetLookup {
    /// The first offset at or after `ms` on each partition; the partition's end where no record is that new.
    static func offsets(_ handle: OpaquePointer, for partitions: [TopicPartition], atOrAfter ms: Int64,
                        timeoutMs: Int32, context: String) throws -> [(TopicPartition, Int64)] {
        let list = PartitionList(partitions.map { ($0, ms) })
        let err = rd_kafka_offsets_for_times(handle, list.pointer, timeoutMs)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context: context) }
        return try list.entries.map { entry in
            if entry.error != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(entry.error, context: "\(context): \(entry.tp)") }
            return (entry.tp, entry.offset >= 0 ? entry.offset : Int64(RD_KAFKA_OFFSET_END))
        }
    }
}
