import CRdKafka
import Foundation
import LockstepBus

/// Converting librdkafka's C structs into the bus's value types, and building partition lists.
enum KafkaMessage {
    /// Copies everything out of `message`: the C memory is freed as soon as the poll loop moves on.
    static func record(_ message: UnsafeMutablePointer<rd_kafka_message_t>, topic: String) -> BusRecord {
        let m = message.pointee
        let value = m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) } ?? []
        let key = m.key.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: m.key_len), as: UTF8.self) }
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let ms = rd_kafka_message_timestamp(message, &type)
        return BusRecord(
            position: RecordPosition(topic: topic, partition: m.partition, offset: m.offset),
            key: key, value: value, headers: headers(message),
            timestamp: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    /// Kafka timestamps are whole milliseconds, so every time is compared at that resolution. The
    /// microsecond of slack absorbs binary floating point: `t + 0.001` must not land a millisecond early.
    static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000 + 0.001).rounded(.down))
    }

    static func timestampMilliseconds(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> Int64 {
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        return rd_kafka_message_timestamp(message, &type)
    }

    private static func headers(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> [BusHeader] {
        var list: OpaquePointer?
        guard rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        var headers: [BusHeader] = []
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(list, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            headers.append(BusHeader(name.map { String(cString: $0) } ?? "", bytes))
            index += 1
        }
        return headers
    }
}

/// A topic/partition pair, hashable, for the consumer's bookkeeping.
struct TopicPartition: Hashable, Sendable, CustomStringConvertible {
    var topic: String
    var partition: Int32
    var description: String { "\(topic)[\(partition)]" }
}

/// An owned `rd_kafka_topic_partition_list_t`, destroyed with the value's last use.
final class PartitionList {
    let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    init(capacity: Int = 4) { pointer = rd_kafka_topic_partition_list_new(Int32(max(capacity, 1))) }

    convenience init(_ entries: [(TopicPartition, Int64)]) {
        self.init(capacity: entries.count)
        for (tp, offset) in entries { add(tp, offset: offset) }
    }

    deinit { rd_kafka_topic_partition_list_destroy(pointer) }

    func add(_ tp: TopicPartition, offset: Int64 = Int64(RD_KAFKA_OFFSET_INVALID)) {
        let element = rd_kafka_topic_partition_list_add(pointer, tp.topic, tp.partition)!
        element.pointee.offset = offset
    }

    var isEmpty: Bool { pointer.pointee.cnt == 0 }

    var entries: [(tp: TopicPartition, offset: Int64, error: rd_kafka_resp_err_t)] {
        PartitionList.entries(pointer)
    }

    static func entries(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?)
        -> [(tp: TopicPartition, offset: Int64, error: rd_kafka_resp_err_t)] {
        guard let list else { return [] }
        return (0..<Int(list.pointee.cnt)).map { i in
            let e = list.pointee.elems[i]
            return (TopicPartition(topic: String(cString: e.topic), partition: e.partition), e.offset, e.err)
        }
    }
}

extension String {
    /// librdkafka's NUL-terminated error buffers.
    init(errorBuffer: [CChar]) {
        self = errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
