import LockstepDrivers

/// What went wrong in the embedded log, with the file, topic or position concerned and what to do.
public enum EmbeddedBusError: Error, Sendable, Hashable, CustomStringConvertible {
    /// SQLite refused an operation on the log's file.
    case sqlite(SQLiteError)
    case unknownTopic(String)
    case invalidPartitionCount(topic: String, partitions: Int)
    case partitionOutOfRange(topic: String, partition: Int32, partitions: Int)
    /// A commit for a partition this member no longer holds: a rebalance gave it to another member,
    /// which starts from the last committed offset, so the record is delivered again there.
    case commitRejected(group: String, position: RecordPosition)
    case notSubscribed(group: String, topic: String)
    case closed(path: String)

    public var description: String {
        switch self {
        case .sqlite(let error):
            return "embedded log \(error)"
        case .unknownTopic(let topic):
            return "topic '\(topic)' does not exist in the embedded log; create it or publish to it first"
        case .invalidPartitionCount(let topic, let partitions):
            return "topic '\(topic)': \(partitions) partitions requested; a topic needs at least 1"
        case .partitionOutOfRange(let topic, let partition, let partitions):
            return "topic '\(topic)' has \(partitions) partitions; partition \(partition) does not exist"
        case .commitRejected(let group, let position):
            return "group '\(group)' no longer assigns \(position.topic)[\(position.partition)] to this member "
                + "(rebalanced); \(position) was not committed and will be delivered again to the new owner"
        case .notSubscribed(let group, let topic):
            return "this member of group '\(group)' is not subscribed to '\(topic)'; commit only what it consumed"
        case .closed(let path):
            return "embedded log \(path) is closed; open a new EmbeddedBus"
        }
    }
}
