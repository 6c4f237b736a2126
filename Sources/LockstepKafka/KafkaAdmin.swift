import CRdKafka
import Foundation
import LockstepBus
import Logging

/// Topic administration and group-offset queries, run on a thread of their own.
///
/// These are request/response calls that block in librdkafka (metadata, admin results); they share the
/// producer's connection to the cluster but never its poll thread, so a slow admin call cannot hold up
/// delivery reports.
final class KafkaAdmin: Sendable {
    private let handle: SendablePointer
    private let thread: KafkaThread
    private let servers: String
    private let timeoutMs: Int32

    /// `handle` stays owned by the producer, which destroys it only after `close()` here has returned.
    init(handle: OpaquePointer, config: KafkaConfig) {
        self.handle = SendablePointer(handle)
        servers = config.bootstrapServersList
        timeoutMs = Int32(clamping: config.requestTimeout.components.seconds * 1000)
        thread = KafkaThread(name: "lockstep-kafka-admin", step: nil, wake: nil)
    }

    func close() async {
        thread.stop()
        await thread.join()
    }

    /// Idempotent: a topic that already exists is left as it is.
    func createTopic(_ name: String, partitions: Int) async throws {
        let context = "creating topic \(name) with \(partitions) partitions (bootstrap servers \(servers))"
        try await thread.run { [handle, timeoutMs] in
            var errstr = [CChar](repeating: 0, count: 512)
            guard let topic = rd_kafka_NewTopic_new(name, Int32(partitions), -1, &errstr, errstr.count) else {
                throw KafkaError(RD_KAFKA_RESP_ERR__INVALID_ARG, message: String(errorBuffer: errstr), context: context)
            }
            defer { rd_kafka_NewTopic_destroy(topic) }
            var topics: [OpaquePointer?] = [topic]
            let event = try Self.request(handle.raw, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeoutMs: timeoutMs, context: context) {
                options, queue in rd_kafka_CreateTopics(handle.raw, &topics, 1, options, queue)
            }
            defer { rd_kafka_event_destroy(event) }
            var count = 0
            guard let result = rd_kafka_event_CreateTopics_result(event),
                  let results = rd_kafka_CreateTopics_result_topics(result, &count)
            else { return }
            for i in 0..<count {
                let err = rd_kafka_topic_result_error(results[i])
                if err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS { continue }
                let message = rd_kafka_topic_result_error_string(results[i]).map { String(cString: $0) }
                throw KafkaError(err, message: message, context: context)
            }
        }
    }

    /// Every topic the cluster reports, without internal ones (`__consumer_offsets`, …).
    func listTopics() async throws -> [TopicInfo] {
        let context = "listing topics (bootstrap servers \(servers))"
        return try await thread.run { [handle, timeoutMs] in
            try KafkaMetadata.withMetadata(handle.raw, topic: nil, timeoutMs: timeoutMs, context: context) { metadata in
                (0..<Int(metadata.pointee.topic_cnt)).compactMap { i -> TopicInfo? in
                    let t = metadata.pointee.topics[i]
                    let name = String(cString: t.topic)
                    guard t.err == RD_KAFKA_RESP_ERR_NO_ERROR, !name.hasPrefix("__") else { return nil }
                    return TopicInfo(name: name, partitions: Int(t.partition_cnt))
                }.sorted { $0.name < $1.name }
            }
        }
    }

    /// The group's committed offsets (the next offset it will read) on each partition of `topic`.
    func committedOffsets(group: String, topic: String) async throws -> [Int32: Int64] {
        let context = "reading committed offsets of group \(group) on \(topic) (bootstrap servers \(servers))"
        return try await thread.run { [handle, timeoutMs] in
            let partitions = try KafkaMetadata.partitions(of: topic, handle: handle.raw, timeoutMs: timeoutMs, context: context)
            let list = PartitionList(partitions.map { (TopicPartition(topic: topic, partition: $0), Int64(RD_KAFKA_OFFSET_INVALID)) })
            guard let request = rd_kafka_ListConsumerGroupOffsets_new(group, list.pointer) else { return [:] }
            defer { rd_kafka_ListConsumerGroupOffsets_destroy(request) }
            var requests: [OpaquePointer?] = [request]
            let event = try Self.request(handle.raw, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeoutMs: timeoutMs, context: context) {
                options, queue in rd_kafka_ListConsumerGroupOffsets(handle.raw, &requests, 1, options, queue)
            }
            defer { rd_kafka_event_destroy(event) }
            var count = 0
            guard let result = rd_kafka_event_ListConsumerGroupOffsets_result(event),
                  let groups = rd_kafka_ListConsumerGroupOffsets_result_groups(result, &count), count > 0
            else { return [:] }
            if let error = rd_kafka_group_result_error(groups[0]) {
                throw KafkaError(rd_kafka_error_code(error), message: String(cString: rd_kafka_error_string(error)), context: context)
            }
            var offsets: [Int32: Int64] = [:]
            for entry in PartitionList.entries(UnsafeMutablePointer(mutating: rd_kafka_group_result_partitions(groups[0])))
            where entry.tp.topic == topic && entry.error == RD_KAFKA_RESP_ERR_NO_ERROR && entry.offset >= 0 {
                offsets[entry.tp.partition] = entry.offset
            }
            return offsets
        }
    }

    /// Sends one admin request and waits (on this thread) for its result event; throws the event's error.
    private static func request(
        _ handle: OpaquePointer, _ op: rd_kafka_admin_op_t, timeoutMs: Int32, context: String,
        send: (OpaquePointer, OpaquePointer) -> Void
    ) throws -> OpaquePointer {
        let queue = rd_kafka_queue_new(handle)!
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(handle, op)!
        defer { rd_kafka_AdminOptions_destroy(options) }
        var errstr = [CChar](repeating: 0, count: 512)
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeoutMs, &errstr, errstr.count)
        if op == RD_KAFKA_ADMIN_OP_CREATETOPICS {
            _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMs, &errstr, errstr.count)
        }
        send(options, queue)
        // The request timeout bounds the wait; the extra second lets librdkafka report its own timeout.
        guard let event = rd_kafka_queue_poll(queue, timeoutMs + 1000) else {
            throw KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, message: "no answer from the cluster", context: context)
        }
        let err = rd_kafka_event_error(event)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let message = rd_kafka_event_error_string(event).map { String(cString: $0) }
            rd_kafka_event_destroy(event)
            throw KafkaError(err, message: message, context: context)
        }
        return event
    }
}

/// Cluster metadata lookups (blocking; call them on a handle's own thread).
enum KafkaMetadata {
    static func withMetadata<T>(
        _ handle: OpaquePointer, topic: String?, timeoutMs: Int32, context: String,
        _ body: (UnsafePointer<rd_kafka_metadata_t>) throws -> T
    ) throws -> T {
        var metadata: UnsafePointer<rd_kafka_metadata_t>?
        let topicHandle = topic.map { rd_kafka_topic_new(handle, $0, nil) }
        defer { topicHandle.flatMap { $0 }.map { rd_kafka_topic_destroy($0) } }
        let err = rd_kafka_metadata(handle, topic == nil ? 1 : 0, topicHandle ?? nil, &metadata, timeoutMs)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError(err, context: context) }
        defer { rd_kafka_metadata_destroy(metadata) }
        return try body(metadata)
    }

    /// The partition ids of `topic`; throws UNKNOWN_TOPIC_OR_PART when it does not exist.
    static func partitions(of topic: String, handle: OpaquePointer, timeoutMs: Int32, context: String) throws -> [Int32] {
        try withMetadata(handle, topic: topic, timeoutMs: timeoutMs, context: context) { metadata in
            guard let t = (0..<Int(metadata.pointee.topic_cnt)).map({ metadata.pointee.topics[$0] })
                .first(where: { String(cString: $0.topic) == topic })
            else { throw KafkaError(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, context: "\(context): no such topic") }
            if t.err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(t.err, context: "\(context): topic \(topic)") }
            guard t.partition_cnt > 0 else {
                throw KafkaError(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, context: "\(context): topic \(topic) has no partitions")
            }
            return (0..<Int(t.partition_cnt)).map { t.partitions[$0].id }.sorted()
        }
    }
}
