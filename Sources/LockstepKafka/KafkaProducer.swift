import CRdKafka
import Foundation
import LockstepBus
import Logging

/// The bus's idempotent producer: `publish` returns once librdkafka has a delivery report for every record.
final class KafkaProducer: KafkaCallbackContext, @unchecked Sendable {
    // Safe to share: `handle` is thread-safe for produce/poll/flush by librdkafka's contract and is only
    // destroyed on `thread` after it has stopped polling; `pending` and `nextBatch` are guarded by `lock`.
    private(set) var handle: OpaquePointer!
    private var mainQueue: OpaquePointer!
    private var thread: KafkaThread!
    private let lock = NSLock()
    private var pending: [UInt32: PendingPublish] = [:]
    private var nextBatch: UInt32 = 0
    private var closed = false

    /// Settings the bus's guarantees rest on; user properties cannot override them.
    static let required = ["enable.idempotence": "true", "acks": "all"]
    /// Java's partitioner, so a key lands on the same partition whichever client produced it.
    static let defaults = ["partitioner": "murmur2_random"]

    init(config: KafkaConfig, logger: Logger) throws {
        super.init(logger: logger, servers: config.bootstrapServersList)
        handle = try KafkaClientHandle.create(
            type: RD_KAFKA_PRODUCER, config: config, defaults: Self.defaults, required: Self.required, context: self
        ) { conf in rd_kafka_conf_set_dr_msg_cb(conf, deliveryCallback) }
        mainQueue = rd_kafka_queue_get_main(handle)
        let handle = self.handle!, queue = SendablePointer(mainQueue)
        thread = KafkaThread(
            name: "lockstep-kafka-producer",
            step: { _ = rd_kafka_poll(handle, 200) },
            wake: { rd_kafka_queue_yield(queue.raw) })
    }

    /// Produces every record, then waits for all delivery reports; the first failure is thrown.
    func publish(_ records: [OutgoingRecord]) async throws -> [RecordPosition] {
        guard !records.isEmpty else { return [] }
        if let fatal = fatalError { throw fatal }
        let (id, batch) = try open(records)
        for index in records.indices {
            while true {
                let err = produce(records[index], opaque: Self.opaque(batch: id, index: index))
                if err == nil { break }
                if err!.code == RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue {
                    // The local queue drains as delivery reports come in on the poll thread; a short
                    // sleep yields this task instead of blocking a pool thread (RD_KAFKA_MSG_F_BLOCK).
                    try? await Task.sleep(for: .milliseconds(1))
                    continue
                }
                // Records already handed over still report; the rest fail now with this error.
                for rest in index..<records.count { complete(batch: id, index: rest, result: .failure(err!)) }
                return try await batch.result()
            }
        }
        return try await batch.result()
    }

    private func open(_ records: [OutgoingRecord]) throws -> (UInt32, PendingPublish) {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else {
            throw KafkaError(RD_KAFKA_RESP_ERR__DESTROY, message: "the bus is closed", context: "publishing to \(records[0].topic)")
        }
        repeat { nextBatch &+= 1 } while nextBatch == 0 || pending[nextBatch] != nil
        let batch = PendingPublish(records: records)
        pending[nextBatch] = batch
        return (nextBatch, batch)
    }

    /// Batch id in the high half, record index in the low half: never zero, so never a null pointer.
    private static func opaque(batch: UInt32, index: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: UInt(batch) << 32 | UInt(UInt32(index)))!
    }

    private func produce(_ record: OutgoingRecord, opaque: UnsafeMutableRawPointer) -> KafkaError? {
        var arena = CStringArena()
        defer { arena.free() }
        var values: [rd_kafka_vu_t] = []
        values.reserveCapacity(6 + record.headers.count)
        func add(_ type: rd_kafka_vtype_t, _ fill: (inout rd_kafka_vu_t) -> Void) {
            var value = rd_kafka_vu_t()
            value.vtype = type
            fill(&value)
            values.append(value)
        }
        add(RD_KAFKA_VTYPE_TOPIC) { $0.u.cstr = arena.string(record.topic) }
        if let key = record.key {
            let bytes = arena.bytes(Array(key.utf8))
            add(RD_KAFKA_VTYPE_KEY) { $0.u.mem.ptr = bytes.pointer; $0.u.mem.size = bytes.count }
        }
        add(RD_KAFKA_VTYPE_OPAQUE) { $0.u.ptr = opaque }
        add(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = RD_KAFKA_MSG_F_COPY }
        if let timestamp = record.timestamp {
            add(RD_KAFKA_VTYPE_TIMESTAMP) { $0.u.i64 = KafkaMessage.milliseconds(timestamp) }
        }
        for header in record.headers {
            let name = arena.string(header.name)
            let bytes = arena.bytes(header.value)
            add(RD_KAFKA_VTYPE_HEADER) {
                $0.u.header.name = name
                $0.u.header.val = UnsafeRawPointer(bytes.pointer)
                $0.u.header.size = bytes.count
            }
        }
        let error: OpaquePointer? = record.value.withUnsafeBytes { value in
            // RD_KAFKA_MSG_F_COPY: librdkafka copies the payload before returning, so the buffer may go.
            add(RD_KAFKA_VTYPE_VALUE) {
                $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress)
                $0.u.mem.size = value.count
            }
            return values.withUnsafeBufferPointer { rd_kafka_produceva(handle, $0.baseAddress, $0.count) }
        }
        guard let error else { return nil }
        return KafkaError(consuming: error, context: "publishing to \(record.topic) (bootstrap servers \(servers))")
    }

    /// Called on the poll thread for each delivery report.
    fileprivate func delivered(_ message: UnsafePointer<rd_kafka_message_t>) {
        let raw = UInt(bitPattern: message.pointee._private)
        let id = UInt32(truncatingIfNeeded: raw >> 32), index = Int(UInt32(truncatingIfNeeded: raw))
        let err = message.pointee.err
        if err == RD_KAFKA_RESP_ERR_NO_ERROR {
            complete(batch: id, index: index, result: .success((message.pointee.partition, message.pointee.offset)))
        } else {
            let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
            var failure = KafkaError(err, context: "publishing to \(topic) (bootstrap servers \(servers))")
            if err == RD_KAFKA_RESP_ERR__FATAL { failure = KafkaClientHandle.fatalError(handle, context: failure.context) }
            complete(batch: id, index: index, result: .failure(failure))
        }
    }

    private func complete(batch id: UInt32, index: Int, result: Result<(Int32, Int64), KafkaError>) {
        lock.lock()
        guard let batch = pending[id] else {
            lock.unlock()
            return
        }
        let done = batch.record(index: index, result)
        if done { pending[id] = nil }
        lock.unlock()
        if done { batch.finish() }
    }

    /// Waits up to `timeout` for records in flight, then stops polling and destroys the handle.
    func close(timeout: Duration) async {
        let wasClosed = lock.withLock {
            defer { closed = true }
            return closed
        }
        guard !wasClosed else { return await thread.join() }
        let handle = self.handle, queue = mainQueue
        let ms = Int32(timeout.components.seconds * 1000)
        thread.stop { [self] in
            _ = rd_kafka_flush(handle, ms)
            rd_kafka_queue_destroy(queue)
            rd_kafka_destroy(handle)
            failRemaining()
        }
        await thread.join()
    }

    private func failRemaining() {
        lock.lock()
        let left = pending.values
        pending.removeAll()
        lock.unlock()
        for batch in left {
            batch.failAll(KafkaError(RD_KAFKA_RESP_ERR__DESTROY, message: "the bus closed before delivery",
                                     context: "publishing (bootstrap servers \(servers))"))
        }
    }
}

/// One `publish` call in flight: positions filled in by delivery reports, then one resume.
private final class PendingPublish: @unchecked Sendable {
    // Safe to share: mutated only by KafkaProducer under its lock (`record`), or by `state` under `lock`.
    private let topics: [String]
    private var positions: [RecordPosition?]
    private var remaining: Int
    private var failure: KafkaError?
    private let lock = NSLock()
    private var outcome: Result<[RecordPosition], KafkaError>?
    private var waiter: CheckedContinuation<[RecordPosition], Error>?

    init(records: [OutgoingRecord]) {
        topics = records.map(\.topic)
        positions = Array(repeating: nil, count: records.count)
        remaining = records.count
    }

    /// Returns true when this was the last outstanding record.
    func record(index: Int, _ result: Result<(Int32, Int64), KafkaError>) -> Bool {
        guard index < positions.count, positions[index] == nil else { return false }
        switch result {
        case let .success((partition, offset)):
            positions[index] = RecordPosition(topic: topics[index], partition: partition, offset: offset)
        case let .failure(error):
            positions[index] = RecordPosition(topic: topics[index], partition: -1, offset: -1)
            if failure == nil { failure = error }
        }
        remaining -= 1
        return remaining == 0
    }

    func finish() {
        let result: Result<[RecordPosition], KafkaError> = failure.map { .failure($0) } ?? .success(positions.map { $0! })
        settle(result)
    }

    func failAll(_ error: KafkaError) { settle(.failure(failure ?? error)) }

    private func settle(_ result: Result<[RecordPosition], KafkaError>) {
        lock.lock()
        guard outcome == nil else { return lock.unlock() }
        outcome = result
        let waiter = self.waiter
        self.waiter = nil
        lock.unlock()
        waiter?.resume(with: result.mapError { $0 as Error })
    }

    func result() async throws -> [RecordPosition] {
        try await withCheckedThrowingContinuation { continuation in
            lock.lock()
            if let outcome {
                lock.unlock()
                continuation.resume(with: outcome.mapError { $0 as Error })
            } else {
                waiter = continuation
                lock.unlock()
            }
        }
    }
}

private let deliveryCallback: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
    _, message, opaque in
    guard let message, let opaque else { return }
    Unmanaged<KafkaProducer>.fromOpaque(opaque).takeUnretainedValue().delivered(message)
}

/// C strings and byte buffers that must outlive one `rd_kafka_produceva` call (which copies them).
struct CStringArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    mutating func string(_ text: String) -> UnsafePointer<CChar> {
        let copy = strdup(text)!
        allocations.append(UnsafeMutableRawPointer(copy))
        return UnsafePointer(copy)
    }

    /// Never a null pointer, so an empty key stays an empty key rather than becoming "no key".
    mutating func bytes(_ bytes: [UInt8]) -> (pointer: UnsafeMutableRawPointer?, count: Int) {
        let memory = malloc(max(bytes.count, 1))!
        bytes.withUnsafeBytes { if let base = $0.baseAddress { memory.copyMemory(from: base, byteCount: bytes.count) } }
        allocations.append(memory)
        return (memory, bytes.count)
    }

    func free() {
        for allocation in allocations { Foundation.free(allocation) }
    }
}
