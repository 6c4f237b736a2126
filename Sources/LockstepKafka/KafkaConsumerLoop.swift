import CRdKafka
import Foundation
import LockstepBus
import Logging

/// What the owner of a consumer loop decides about the records and events its poll thread sees: the
/// group consumer filters by seek time, the bounded reader by its range and ends partitions.
/// Every method runs on the poll thread.
protocol KafkaConsumerLoopDelegate: AnyObject {
    /// The record to hand out for `message`, or nil to skip it.
    func accept(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> BusRecord?
    /// `records` are now in the buffer (or with the waiting reader), in order.
    func delivered(_ records: [BusRecord])
    /// librdkafka reached the end of `partition` at `offset` (only with `enable.partition.eof`).
    func partitionEnded(_ partition: TopicPartition, at offset: Int64)
    /// Whether a partition of the assignment should be fetched at all (the reader stops finished ones).
    func shouldFetch(_ partition: TopicPartition) -> Bool
}

extension KafkaConsumerLoopDelegate {
    func delivered(_ records: [BusRecord]) {}
    func partitionEnded(_ partition: TopicPartition, at offset: Int64) {}
    func shouldFetch(_ partition: TopicPartition) -> Bool { true }
}

/// The poll thread and bounded record buffer that a group consumer or a bounded reader owns.
///
/// The poll thread moves records from librdkafka into a buffer of at most `capacity` records (plus at
/// most one poll batch already in flight when it filled); `StateMachine` decides when it waits, pauses
/// and resumes, and what a reader gets. The owner says which records pass and reacts to partition
/// ends (`KafkaConsumerLoopDelegate`), and runs its setup, rebalances and teardown on the same thread.
final class KafkaConsumerLoop: @unchecked Sendable {
    // Safe to share: `handle`/`queue`/`thread` are set once in `start` before any other thread can see
    // them; `machine` is guarded by `lock`; `context`, `delegate`, `pending` and the topic-name cache
    // are only used on the poll thread after `start` (jobs, callbacks and polls all run there).
    private(set) var handle: OpaquePointer!
    private(set) var queue: OpaquePointer!
    private(set) var thread: KafkaThread!
    let label: String
    let logger: Logger
    let servers: String
    /// Guards `machine`; its condition is signalled when the reader makes room or a job arrives.
    private let lock = NSCondition()
    private var machine: Machine
    typealias Machine = StateMachine<CheckedContinuation<BusRecord?, Error>>
    /// Both kept until the handle is destroyed: librdkafka's callbacks reach `context` through the
    /// handle's opaque pointer, and the owner's rebalances and teardown need the delegate's state.
    private var context: KafkaCallbackContext?
    private var delegate: (any KafkaConsumerLoopDelegate)?
    /// Records accepted but not yet handed over; topic names by topic handle (librdkafka keeps a topic
    /// handle alive as long as the client, so the pointer identifies the topic).
    private var pending: [BusRecord] = []
    private var topicNames: [OpaquePointer: String] = [:]
    private var lastTopic: (handle: OpaquePointer, name: String)?

    /// How long a full buffer may wait for the reader before its partitions are paused.
    static let pauseAfter = Duration.milliseconds(500)

    init(config: KafkaConfig, logger: Logger, label: String) {
        self.label = label
        self.logger = logger
        servers = config.bootstrapServersList
        machine = StateMachine(capacity: config.consumerBufferCapacity, pauseAfter: Self.pauseAfter)
    }

    /// Creates the handle and its poll thread; callers then enqueue their setup with `thread.run`.
    /// `context` is the handle's callback context (its owner), `delegate` decides about records.
    func start(config: KafkaConfig, defaults: [String: String], required: [String: String],
               context: KafkaCallbackContext, delegate: any KafkaConsumerLoopDelegate,
               configure: (OpaquePointer) -> Void = { _ in }) throws {
        handle = try KafkaClientHandle.create(
            type: RD_KAFKA_CONSUMER, config: config, defaults: KafkaConsumerDefaults.properties.merging(defaults) { $1 },
            required: required, context: context, configure: configure)
        self.context = context
        self.delegate = delegate
        // Serve logs, errors and rebalances from the consumer queue, i.e. from our own poll calls.
        rd_kafka_poll_set_consumer(handle)
        queue = rd_kafka_queue_get_consumer(handle)
        let handle = SendablePointer(self.handle), queue = SendablePointer(self.queue)
        // Weak: the thread outlives neither the loop's owner nor `close()`, and a strong capture would
        // keep the loop and its thread alive through each other forever.
        thread = KafkaThread(
            name: "lockstep-kafka-\(label)",
            step: { [weak self] in self?.pollOnce(handle.raw) },
            wake: { [weak self] in
                guard let self else { return }
                // Signalled after unlocking (here and in `perform`): the poll thread re-reads the
                // machine under the lock whenever it wakes, so no signal can be missed.
                if lock.withLock({ machine.jobQueued() }) { lock.signal() }
                rd_kafka_queue_yield(queue.raw)
            })
    }

    /// The handle, or nil once destroyed (a job that lost the race with `close`).
    var liveHandle: OpaquePointer? { lock.withLock { machine.handleIsLive ? handle : nil } }

    /// How often fetching was paused for a slow reader (for tests and diagnostics).
    var fetchPauses: Int { lock.withLock { machine.pauses } }

    /// Partitions this handle currently reads.
    var assignment: Set<TopicPartition> { lock.withLock { machine.assignment } }

    // MARK: Poll thread

    /// One wait for messages and events, then whatever else is already queued (up to a batch), so a
    /// fast reader pays one wake-up and one lock per batch rather than per record.
    private func pollOnce(_ handle: OpaquePointer) {
        switch awaitRoom() {
        case .runJobsFirst: return
        case let .pauseThenPoll(partitions): apply(pause: true, to: partitions)
        case .poll, .waitForRoom: break  // awaitRoom waits out .waitForRoom itself
        }
        var timeout: Int32 = 200
        for _ in 0..<256 {
            guard let message = rd_kafka_consumer_poll(handle, timeout) else { break }
            timeout = 0
            process(message, handle)
            rd_kafka_message_destroy(message)
        }
        flush()
    }

    /// Blocks while the buffer is full and the machine says wait (for the reader, a job or the stall
    /// deadline); the action it settles on.
    private func awaitRoom() -> Machine.PollAction {
        lock.lock()
        defer { lock.unlock() }
        var action = machine.pollRequested(now: .now)
        while case let .waitForRoom(deadline) = action {
            _ = lock.wait(until: Date(timeIntervalSinceNow: Self.seconds(deadline - .now)))
            action = machine.roomWaitWoke(now: .now)
        }
        return action
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private func process(_ message: UnsafeMutablePointer<rd_kafka_message_t>, _ handle: OpaquePointer) {
        let err = message.pointee.err
        if err == RD_KAFKA_RESP_ERR_NO_ERROR {
            if let record = delegate?.accept(message) { pending.append(record) }
        } else if err == RD_KAFKA_RESP_ERR__PARTITION_EOF {
            flush()
            delegate?.partitionEnded(TopicPartition(topic: topicName(message), partition: message.pointee.partition),
                                     at: message.pointee.offset)
        } else if err == RD_KAFKA_RESP_ERR__FATAL {
            finish(throwing: KafkaClientHandle.fatalError(handle, context: "consuming (\(label))"))
        } else {
            // Transient (broker down, topic not yet created, partition moving): librdkafka retries itself.
            let text = rd_kafka_message_errstr(message).map { String(cString: $0) } ?? ""
            logger.warning("Kafka \(String(cString: rd_kafka_err2name(err))) while consuming (\(label), bootstrap servers \(servers)): \(text)")
        }
    }

    /// Hands the records accepted so far to the buffer (and a waiting reader), in order.
    private func flush() {
        guard !pending.isEmpty else { return }
        let records = pending
        pending.removeAll(keepingCapacity: true)
        let resumption = lock.withLock { machine.recordsPolled(records) }
        resumption?.resume()
        delegate?.delivered(records)
    }

    /// The record for `message` as the bus hands it out (the delegate's default `accept`).
    func record(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> BusRecord {
        KafkaMessage.record(message, topic: topicName(message))
    }

    /// The message's topic name, cached per librdkafka topic handle (one String, not one per record).
    func topicName(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> String {
        guard let rkt = message.pointee.rkt else { return "" }
        if rkt == lastTopic?.handle, let name = lastTopic?.name { return name }  // runs of one topic: no hashing
        let name = topicNames[rkt] ?? String(cString: rd_kafka_topic_name(rkt))
        topicNames[rkt] = name
        lastTopic = (rkt, name)
        return name
    }

    /// No more records will come: `next()` drains the buffer, then returns nil (or throws `error`).
    func finish(throwing error: Error? = nil) {
        flush()
        lock.withLock { machine.ended(failure: error) }?.resume()
    }

    /// The handle now also reads `partitions`; they join a pause in progress.
    func assigned(_ partitions: Set<TopicPartition>) {
        let pause = lock.withLock { machine.partitionsAssigned(partitions) }
        if !pause.isEmpty { apply(pause: true, to: pause) }
    }

    /// The handle no longer reads `partitions`; their buffered records are dropped.
    func unassigned(_ partitions: Set<TopicPartition>) {
        lock.withLock { machine.partitionsRevoked(partitions) }
    }

    /// A seek is about to move `partitions`: drops their buffered records and resumes a paused fetch.
    func seeking(_ partitions: Set<TopicPartition>) {
        if let resume = lock.withLock({ machine.seeking(partitions) }) { apply(pause: false, to: resume) }
    }

    /// Pauses or resumes the partitions the delegate wants fetched.
    private func apply(pause: Bool, to partitions: Set<TopicPartition>) {
        let list = PartitionList(partitions.filter { delegate?.shouldFetch($0) ?? false }.map { ($0, Int64(RD_KAFKA_OFFSET_INVALID)) })
        guard !list.isEmpty else { return }
        let err = pause ? rd_kafka_pause_partitions(handle, list.pointer) : rd_kafka_resume_partitions(handle, list.pointer)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("could not \(pause ? "pause" : "resume") \(label): \(String(cString: rd_kafka_err2str(err)))")
        }
    }

    // MARK: Any thread

    /// The next record, waiting for one; nil at the end or once closed.
    func next() async throws -> BusRecord? {
        // Most calls find a record buffered: take it without allocating a continuation.
        let taken = lock.withLock { machine.takeOne() }
        if let (record, actions) = taken {
            perform(actions)
            return record
        }
        return try await waitForNext()
    }

    /// The next record (waiting for one), then whatever else is buffered, up to `max` in all: one
    /// lock for the lot.
    func nextBatch(max: Int) async throws -> [BusRecord] {
        guard let first = try await next() else { return [] }
        guard max > 1 else { return [first] }
        var batch = [first]
        perform(lock.withLock { machine.take(into: &batch, max: max) })
        return batch
    }

    private func waitForNext() async throws -> BusRecord? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<BusRecord?, Error>) in
                let action = lock.withLock { machine.waitForRecord(continuation, isCancelled: Task.isCancelled) }
                switch action {
                case let .record(record, actions):
                    perform(actions)
                    continuation.resume(returning: record)
                case let .end(failure):
                    if let failure { continuation.resume(throwing: failure) } else { continuation.resume(returning: nil) }
                case .rejectSecondReader:
                    continuation.resume(throwing: KafkaError(
                        RD_KAFKA_RESP_ERR__STATE, message: "next() called while another next() is waiting", context: label))
                case .cancelled:
                    continuation.resume(throwing: CancellationError())
                case let .suspended(actions):
                    perform(actions)
                }
            }
        } onCancel: {
            lock.withLock { machine.cancelWaiter() }?.resume(throwing: CancellationError())
        }
    }

    private func perform(_ actions: Machine.TakeActions) {
        guard !actions.isEmpty else { return }
        if actions.contains(.wakePollThread) { lock.signal() }
        if actions.contains(.queueResume) {
            thread.enqueue { [self] in
                if let resume = lock.withLock({ machine.resumeJobRan() }) { apply(pause: false, to: resume) }
            }
        }
    }

    /// Stops the poll thread; `teardown` runs on it first (leave the group), then the handle is destroyed.
    func close(teardown: @escaping (OpaquePointer) -> Void) async {
        stop(teardown: teardown)
        await thread.join()
    }

    /// Begins `close` without waiting for it (deinit and failed setup cannot await); closing twice is
    /// harmless. The thread keeps the loop alive until the handle is gone.
    func stop(teardown: @escaping (OpaquePointer) -> Void) {
        let action = lock.withLock { machine.closeRequested() }
        guard case let .first(wake) = action else { return }
        wake?.resume(returning: nil)
        let handle = self.handle!, queue = self.queue!
        thread.stop { [self] in
            teardown(handle)
            lock.withLock { machine.handleDestroyed() }
            rd_kafka_queue_destroy(queue)
            rd_kafka_destroy(handle)
            finish()
            delegate = nil
            context = nil
        }
    }
}

extension KafkaConsumerLoop.StateMachine.Resumption where Waiter == CheckedContinuation<BusRecord?, Error> {
    func resume() { waiter.resume(with: result) }
}
