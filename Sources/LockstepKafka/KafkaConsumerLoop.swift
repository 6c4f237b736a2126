import CRdKafka
import Foundation
import LockstepBus
import Logging

/// The poll thread and bounded record buffer shared by the group consumer and the bounded reader.
///
/// The poll thread moves records from librdkafka into a buffer of at most `capacity` records (plus at
/// most one poll batch already in flight when it filled). When the buffer is full the thread stops
/// polling until the reader has drained half, so fetched records wait in librdkafka's own queue, which
/// bounds itself (`queued.max.messages.kbytes`). A reader that stays slow for `pauseAfter` gets its
/// partitions paused instead, so the thread can go on serving rebalances and jobs; pausing is kept for
/// that case only because librdkafka drops a paused partition's prefetched records and fetches them
/// again on resume. Subclasses decide which records pass (`accept`), react to partition EOF and
/// rebalances, and run their setup and teardown on the same thread.
class KafkaConsumerLoop: KafkaCallbackContext, @unchecked Sendable {
    // Safe to share: `handle`/`queue`/`thread` are set once in `start` before any other thread can see
    // them; the buffer, waiter and flags below are guarded by `lock`; `assignment` is only
    // used on the poll thread (jobs, callbacks and `accept` all run there).
    private(set) var handle: OpaquePointer!
    private(set) var queue: OpaquePointer!
    private(set) var thread: KafkaThread!
    let label: String
    private let capacity: Int
    /// Guards the state below; signalled when the reader makes room or a job arrives.
    private let lock = NSCondition()
    private var buffer = RecordRing()
    private var waiter: CheckedContinuation<BusRecord?, Error>?
    private var finished = false
    private var failure: Error?
    /// Fetching is paused because the buffer filled (changed on the poll thread, read by `next()`).
    private var paused = false
    private var resumeScheduled = false
    /// The poll thread waits for room (it is full, not yet paused); `next()` signals when it has some.
    private var waitingForRoom = false
    /// A job arrived for the poll thread: cut a wait for room short.
    private var jobPending = false
    /// Since when the buffer has been full without room appearing (poll thread only).
    private var fullSince: ContinuousClock.Instant?
    /// How often fetching was paused for a slow reader (for tests and diagnostics).
    private var pauses = 0
    var fetchPauses: Int { lock.withLock { pauses } }
    /// How long a full buffer may wait for the reader before its partitions are paused.
    static let pauseAfter = Duration.milliseconds(500)
    private var closing = false
    private var destroyed = false
    /// Partitions this handle currently reads (poll thread only).
    var assignment: Set<TopicPartition> = []
    /// Poll thread only: records accepted but not yet handed over; topic names by topic handle (librdkafka
    /// keeps a topic handle alive as long as the client, so the pointer identifies the topic).
    private var pending: [BusRecord] = []
    private var topicNames: [OpaquePointer: String] = [:]
    private var lastTopic: (handle: OpaquePointer, name: String)?

    init(config: KafkaConfig, logger: Logger, label: String) {
        self.label = label
        capacity = max(1, config.consumerBufferCapacity)
        super.init(logger: logger, servers: config.bootstrapServersList)
    }

    /// Creates the handle and its poll thread; callers then enqueue their setup with `thread.run`.
    func start(config: KafkaConfig, defaults: [String: String], required: [String: String],
               configure: (OpaquePointer) -> Void = { _ in }) throws {
        handle = try KafkaClientHandle.create(
            type: RD_KAFKA_CONSUMER, config: config, defaults: KafkaConsumerDefaults.properties.merging(defaults) { $1 },
            required: required, context: self,
            configure: configure)
        // Serve logs, errors and rebalances from the consumer queue, i.e. from our own poll calls.
        rd_kafka_poll_set_consumer(handle)
        queue = rd_kafka_queue_get_consumer(handle)
        let handle = SendablePointer(self.handle), queue = SendablePointer(self.queue)
        thread = KafkaThread(
            name: "lockstep-kafka-\(label)",
            step: { [self] in pollOnce(handle.raw) },
            wake: { [self] in
                lock.withLock {
                    jobPending = true
                    if waitingForRoom { lock.signal() }
                }
                rd_kafka_queue_yield(queue.raw)
            })
    }

    /// The handle, or nil once destroyed (a job that lost the race with `close`).
    var liveHandle: OpaquePointer? {
        lock.lock()
        defer { lock.unlock() }
        return destroyed ? nil : handle
    }

    // MARK: Poll thread

    /// One wait for messages and events, then whatever else is already queued (up to a batch), so a
    /// fast reader pays one wake-up and one lock per batch rather than per record.
    private func pollOnce(_ handle: OpaquePointer) {
        guard waitForRoom() else { return }
        var timeout: Int32 = 200
        for _ in 0..<256 {
            guard let message = rd_kafka_consumer_poll(handle, timeout) else { break }
            timeout = 0
            process(message, handle)
            rd_kafka_message_destroy(message)
        }
        flush()
    }

    private func process(_ message: UnsafeMutablePointer<rd_kafka_message_t>, _ handle: OpaquePointer) {
        let err = message.pointee.err
        if err == RD_KAFKA_RESP_ERR_NO_ERROR {
            if let record = accept(message) { pending.append(record) }
        } else if err == RD_KAFKA_RESP_ERR__PARTITION_EOF {
            flush()
            partitionEnded(TopicPartition(topic: topicName(message), partition: message.pointee.partition),
                           at: message.pointee.offset)
        } else if err == RD_KAFKA_RESP_ERR__FATAL {
            finish(throwing: KafkaClientHandle.fatalError(handle, context: "consuming (\(label))"))
        } else {
            // Transient (broker down, topic not yet created, partition moving): librdkafka retries itself.
            let text = rd_kafka_message_errstr(message).map { String(cString: $0) } ?? ""
            logger.warning("Kafka \(String(cString: rd_kafka_err2name(err))) while consuming (\(label), bootstrap servers \(servers)): \(text)")
        }
    }

    /// Hands the records accepted so far to the buffer (and a waiting reader), in order. Poll thread.
    private func flush() {
        guard !pending.isEmpty else { return }
        let records = pending
        pending.removeAll(keepingCapacity: true)
        deliver(records)
        if observesDelivery { for record in records { delivered(record) } }
    }

    /// The record to hand out for `message`, or nil to skip it. Poll thread.
    func accept(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> BusRecord? {
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

    /// `record` is now in the buffer (or with the waiting reader). Poll thread; called only when
    /// `observesDelivery` (a per-record call the group consumer does not need).
    func delivered(_ record: BusRecord) {}
    var observesDelivery: Bool { false }

    /// librdkafka reached the end of `partition` (only with `enable.partition.eof`). Poll thread.
    func partitionEnded(_ partition: TopicPartition, at offset: Int64) {}

    /// Poll thread.
    private func deliver(_ records: [BusRecord]) {
        lock.lock()
        var rest = records[...]
        let first = waiter.map { waiter in (waiter, rest.removeFirst()) }
        if first != nil { waiter = nil }
        buffer.append(contentsOf: rest)
        lock.unlock()
        if let (waiter, record) = first { waiter.resume(returning: record) }
    }

    /// Whether to poll now: true while the buffer has room, or once fetching is paused (a poll then
    /// serves only events). On a full buffer it waits for the reader to drain half, returning false
    /// early for a queued job; a reader that makes no room for `pauseAfter` gets its partitions paused.
    /// Poll thread.
    private func waitForRoom() -> Bool {
        lock.lock()
        jobPending = false
        guard buffer.count >= capacity, !paused, !closing, !finished else {
            lock.unlock()
            fullSince = nil
            return true
        }
        let since = fullSince ?? .now
        fullSince = since
        let remaining = Self.pauseAfter - (ContinuousClock.now - since)
        let deadline = Date(timeIntervalSinceNow: Double(remaining.components.seconds) + Double(remaining.components.attoseconds) / 1e18)
        waitingForRoom = true
        while buffer.count > capacity / 2, !jobPending, !closing, Date() < deadline {
            _ = lock.wait(until: deadline)
        }
        waitingForRoom = false
        let room = buffer.count <= capacity / 2 || closing
        let interrupted = jobPending
        // Decided under the lock, so `next()` never misses that a resume is needed once it drains.
        let pause = !room && !interrupted
        if pause {
            paused = true
            pauses += 1
        }
        lock.unlock()
        if room { fullSince = nil }
        if pause {
            fullSince = nil
            apply(pause: true, to: assignment)
            return true
        }
        return room
    }

    /// No more records will come: `next()` drains the buffer, then returns nil (or throws `error`).
    func finish(throwing error: Error? = nil) {
        flush()
        lock.lock()
        if failure == nil { failure = error }
        finished = true
        let waiter = buffer.isEmpty ? self.waiter : nil
        if waiter != nil { self.waiter = nil }
        let failure = self.failure
        lock.unlock()
        if let failure { waiter?.resume(throwing: failure) } else { waiter?.resume(returning: nil) }
    }

    /// Drops buffered records of these partitions (revoked, or moved by a seek). Poll thread.
    func discardBuffered(_ partitions: Set<TopicPartition>) {
        guard !partitions.isEmpty else { return }
        lock.lock()
        buffer.removeAll { partitions.contains(TopicPartition(topic: $0.position.topic, partition: $0.position.partition)) }
        lock.unlock()
    }

    /// Pauses or resumes the partitions that `shouldFetch` allows. Poll thread.
    private func apply(pause: Bool, to partitions: Set<TopicPartition>) {
        let list = PartitionList(partitions.filter(shouldFetch).map { ($0, Int64(RD_KAFKA_OFFSET_INVALID)) })
        guard !list.isEmpty else { return }
        let err = pause ? rd_kafka_pause_partitions(handle, list.pointer) : rd_kafka_resume_partitions(handle, list.pointer)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("could not \(pause ? "pause" : "resume") \(label): \(String(cString: rd_kafka_err2str(err)))")
        }
    }

    /// Whether a partition in `assignment` should be fetched at all (the reader stops finished ones).
    func shouldFetch(_ partition: TopicPartition) -> Bool { true }

    /// Newly assigned partitions join the pause while the buffer is full. Poll thread.
    func assigned(_ partitions: Set<TopicPartition>) {
        assignment.formUnion(partitions)
        if lock.withLock({ paused }) { apply(pause: true, to: partitions) }
    }

    /// Poll thread.
    func unassigned(_ partitions: Set<TopicPartition>) {
        assignment.subtract(partitions)
        discardBuffered(partitions)
    }

    /// Resumes fetching after a seek emptied some of the buffer. Poll thread.
    func resumeIfPaused() {
        let wasPaused = lock.withLock {
            defer { paused = false }
            return paused
        }
        if wasPaused { apply(pause: false, to: assignment) }
    }

    // MARK: Any thread

    /// The next record, waiting for one; nil at the end or once closed.
    func next() async throws -> BusRecord? {
        // Most calls find a record buffered: take it without allocating a continuation.
        if let record = popBuffered() { return record }
        return try await waitForNext()
    }

    /// The next record (waiting for one), then whatever else is buffered, up to `max` in all: one
    /// lock for the lot.
    func nextBatch(max: Int) async throws -> [BusRecord] {
        guard let first = try await next() else { return [] }
        guard max > 1 else { return [first] }
        var batch = [first]
        popBuffered(into: &batch, max: max)
        return batch
    }

    private func popBuffered(into batch: inout [BusRecord], max: Int) {
        lock.lock()
        while batch.count < max, let record = buffer.popFirst() { batch.append(record) }
        let resume = tookRecords()
        lock.unlock()
        if resume { scheduleResume() }
    }

    private func popBuffered() -> BusRecord? {
        lock.lock()
        guard let record = buffer.popFirst() else {
            lock.unlock()
            return nil
        }
        let resume = tookRecords()
        lock.unlock()
        if resume { scheduleResume() }
        return record
    }

    /// After the reader took records: whether to resume paused fetching; wakes a poll thread waiting
    /// for room. Under `lock`.
    private func tookRecords() -> Bool {
        let low = buffer.count <= capacity / 2
        let resume = paused && !resumeScheduled && low
        if resume { resumeScheduled = true }
        if waitingForRoom && low { lock.signal() }
        return resume
    }

    private func waitForNext() async throws -> BusRecord? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<BusRecord?, Error>) in
                lock.lock()
                if let record = buffer.popFirst() {
                    let resume = tookRecords()
                    lock.unlock()
                    if resume { scheduleResume() }
                    continuation.resume(returning: record)
                } else if finished || closing {
                    let failure = self.failure
                    lock.unlock()
                    if let failure { continuation.resume(throwing: failure) } else { continuation.resume(returning: nil) }
                } else if waiter != nil {
                    lock.unlock()
                    continuation.resume(throwing: KafkaError(
                        RD_KAFKA_RESP_ERR__STATE, message: "next() called while another next() is waiting", context: label))
                } else if Task.isCancelled {
                    lock.unlock()
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiter = continuation
                    let resume = paused && !resumeScheduled
                    if resume { resumeScheduled = true }
                    lock.unlock()
                    if resume { scheduleResume() }
                }
            }
        } onCancel: {
            lock.lock()
            let waiter = self.waiter
            self.waiter = nil
            lock.unlock()
            waiter?.resume(throwing: CancellationError())
        }
    }

    private func scheduleResume() {
        thread.enqueue { [self] in
            lock.lock()
            resumeScheduled = false
            let stillLow = buffer.count <= capacity / 2
            lock.unlock()
            if stillLow { resumeIfPaused() }
        }
    }

    /// Stops the poll thread; `teardown` runs on it first (leave the group), then the handle is destroyed.
    func close(teardown: @escaping (OpaquePointer) -> Void) async {
        if beginClosing() {
            let handle = self.handle!, queue = self.queue!
            thread.stop { [self] in
                teardown(handle)
                lock.withLock { destroyed = true }
                rd_kafka_queue_destroy(queue)
                rd_kafka_destroy(handle)
                finish()
            }
        }
        await thread.join()
    }

    /// Marks the loop closing and wakes a waiting `next()` with nil; true the first time.
    private func beginClosing() -> Bool {
        lock.lock()
        let first = !closing
        closing = true
        buffer.removeAll { _ in true }
        let waiter = self.waiter
        self.waiter = nil
        lock.unlock()
        waiter?.resume(returning: nil)
        return first
    }

    /// For a forgotten consumer: stop without waiting (deinit cannot await).
    func closeInBackground(teardown: @escaping @Sendable (OpaquePointer) -> Void) {
        Task { await close(teardown: teardown) }
    }
}
