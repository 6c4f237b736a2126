import Foundation
import LockstepBus

extension TopicReaderCore {
    /// Which records of each partition a bounded read hands out, and when each partition ends: the
    /// reader's per-partition state as a value, fed what the poll thread sees.
    ///
    /// A partition ends at its exclusive stop offset: when its last record is in the buffer, when a
    /// record at or past the stop arrives, when its last record is filtered out, or at an
    /// end-of-partition event at exactly the next expected offset. Records older than that offset and
    /// end-of-partition events further ahead are left over from the end probe (`confirmEnds`), which
    /// read the last record of each partition before the range was assigned.
    struct ReadRange {
        /// What to do with one polled record.
        enum Verdict: Equatable {
            case deliver
            case skip
            /// Skip it, and its partition has ended.
            case skipAndEnd
        }

        /// Exclusive end offset of each partition still being read.
        private(set) var stopAt: [Int32: Int64] = [:]
        /// Where each partition's read starts.
        private(set) var starts: [Int32: Int64] = [:]
        /// The next offset expected on each partition.
        private(set) var nextOffset: [Int32: Int64] = [:]
        /// A timestamp start: records older than this are skipped, until the first one at or after it.
        private var skipBefore: [Int32: Int64] = [:]
        /// A timestamp end: records newer than this are skipped.
        private var lastTimestamp: Int64?

        /// Nothing to read (before the reader opens).
        init() {}

        /// `watermarks`: each partition's low offset and confirmed end. `timeOffsets`: for a timestamp
        /// start, each partition's first offset at or after it (negative where no record is that new).
        init(watermarks: [Int32: (low: Int64, high: Int64)], from start: SeekTarget, to end: ReadEnd,
             timeOffsets: [Int32: Int64] = [:]) {
            if case let .timestamp(date) = end { lastTimestamp = KafkaMessage.milliseconds(date) }
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
                for (p, w) in watermarks {
                    let offset = timeOffsets[p] ?? -1
                    starts[p] = offset < 0 ? w.high : max(offset, w.low)
                    skipBefore[p] = ms
                }
            }
            for (p, w) in watermarks {
                var stop = w.high
                if case let .offset(partition, offset) = end, partition == p { stop = min(stop, offset) }
                let first = starts[p]!
                if first < stop { stopAt[p] = stop }
                nextOffset[p] = first
            }
        }

        /// The partitions to assign, each from its start, in partition order.
        var assignment: [(partition: Int32, offset: Int64)] {
            stopAt.keys.sorted().map { ($0, starts[$0]!) }
        }

        /// Every partition has ended.
        var isFinished: Bool { stopAt.isEmpty }

        func isReading(_ partition: Int32) -> Bool { stopAt[partition] != nil }

        /// A record at `offset` of `partition`, with its timestamp in milliseconds.
        mutating func polled(partition: Int32, offset: Int64, timestamp ms: Int64) -> Verdict {
            guard let stop = stopAt[partition], offset >= nextOffset[partition] ?? 0 else { return .skip }
            nextOffset[partition] = offset + 1
            if offset >= stop { return end(partition) ? .skipAndEnd : .skip }
            var skip = false
            if let minimum = skipBefore[partition] {
                if ms < minimum { skip = true } else { skipBefore[partition] = nil }
            }
            if let lastTimestamp, ms > lastTimestamp { skip = true }
            guard skip else { return .deliver }
            return (offset + 1 >= stop && end(partition)) ? .skipAndEnd : .skip
        }

        /// A delivered record is in the buffer; true if it was its partition's last, which ends it
        /// (never before it is buffered).
        mutating func delivered(partition: Int32, offset: Int64) -> Bool {
            guard let stop = stopAt[partition], offset + 1 >= stop else { return false }
            return end(partition)
        }

        /// librdkafka reached the end of `partition` at `offset`; true if that ends the read of it.
        mutating func reachedEnd(partition: Int32, at offset: Int64) -> Bool {
            guard offset == nextOffset[partition] else { return false }
            return end(partition)
        }

        private mutating func end(_ partition: Int32) -> Bool {
            stopAt.removeValue(forKey: partition) != nil
        }
    }
}
