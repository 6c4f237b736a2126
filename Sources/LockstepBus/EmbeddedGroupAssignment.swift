import Foundation

/// A topic and one of its partitions.
struct TopicPartition: Hashable, Comparable, Sendable {
    var topic: String
    var partition: Int32
    static func < (a: TopicPartition, b: TopicPartition) -> Bool {
        (a.topic, a.partition) < (b.topic, b.partition)
    }
}

/// How a group's partitions are shared among its live members: per topic, partition i goes to the
/// (i mod n)-th of the n members subscribed to it, oldest member first. Pure and deterministic.
enum EmbeddedGroupAssignment {
    struct Member: Sendable {
        var id: UInt64
        var topics: [String]
    }

    static func assign(_ members: [Member], partitions: [String: Int]) -> [UInt64: Set<TopicPartition>] {
        var result: [UInt64: Set<TopicPartition>] = [:]
        for member in members { result[member.id] = [] }
        let topics = Set(members.flatMap(\.topics)).sorted()
        for topic in topics {
            let subscribers = members.filter { $0.topics.contains(topic) }.sorted { $0.id < $1.id }
            guard !subscribers.isEmpty else { continue }
            for partition in 0..<(partitions[topic] ?? 0) {
                result[subscribers[partition % subscribers.count].id, default: []]
                    .insert(TopicPartition(topic: topic, partition: Int32(partition)))
            }
        }
        return result
    }
}

/// What the coordinator hands a member: the partitions it now holds, and for the ones it did not hold
/// before, the group's committed offset (nil: none committed, start at the earliest record).
struct EmbeddedAssignmentUpdate: Sendable {
    var generation: Int
    var partitions: Set<TopicPartition>
    var fresh: [TopicPartition: Int64?]
}

/// The coordinator's outbox to one member, read by the member at its next `next()`. Updates that
/// arrive before the member reads are merged, so no fresh partition is missed.
final class EmbeddedMemberMailbox: @unchecked Sendable {
    // @unchecked: `pending` is only touched with `lock` held.
    private let lock = NSLock()
    private var pending: EmbeddedAssignmentUpdate?

    func post(_ update: EmbeddedAssignmentUpdate) {
        lock.lock()
        defer { lock.unlock() }
        if let earlier = pending {
            var merged = update
            for (partition, committed) in earlier.fresh where update.partitions.contains(partition) && !merged.fresh.keys.contains(partition) {
                merged.fresh[partition] = committed
            }
            pending = merged
        } else {
            pending = update
        }
    }

    func take() -> EmbeddedAssignmentUpdate? {
        lock.lock()
        defer { lock.unlock() }
        let update = pending
        pending = nil
        return update
    }
}
