import Foundation
import LockstepBus
@testable import LockstepKafka
import Testing

/// The bounded reader's per-partition range alone: where each partition starts and stops, which
/// records pass, and which events end a partition. No broker.
@Suite struct KafkaTopicReaderRangeTests {
    typealias Range = TopicReaderCore.ReadRange

    let base = Date(timeIntervalSince1970: 1_750_000_000)
    func ms(_ minutes: Int) -> Int64 { KafkaMessage.milliseconds(base.addingTimeInterval(Double(minutes) * 60)) }

    @Test func fromTheBeginningToLatestReadsEveryNonEmptyPartition() {
        var range = Range(watermarks: [0: (2, 5), 1: (0, 0), 2: (0, 1)], from: .beginning, to: .latest)
        #expect(range.assignment.map(\.partition) == [0, 2])
        #expect(range.assignment.map(\.offset) == [2, 0])
        #expect(!range.isReading(1))
        #expect(range.polled(partition: 0, offset: 2, timestamp: 0) == .deliver)
        #expect(range.delivered(partition: 0, offset: 2) == false)
        #expect(range.polled(partition: 2, offset: 0, timestamp: 0) == .deliver)
        #expect(range.delivered(partition: 2, offset: 0) == true)  // its last record is buffered: it ends
        #expect(!range.isReading(2))
        #expect(range.polled(partition: 0, offset: 3, timestamp: 0) == .deliver)
        #expect(range.polled(partition: 0, offset: 4, timestamp: 0) == .deliver)
        #expect(!range.isFinished)
        #expect(range.delivered(partition: 0, offset: 4) == true)
        #expect(range.isFinished)
    }

    @Test func olderRecordsAndEndsFurtherAheadAreLeftoversOfTheEndProbe() {
        // The probe read the last record (offset 4) to its end-of-partition at 5 before the range began.
        var range = Range(watermarks: [0: (0, 5)], from: .beginning, to: .latest)
        #expect(range.reachedEnd(partition: 0, at: 5) == false)  // the probe's end, ahead of the next expected 0
        #expect(range.polled(partition: 0, offset: 0, timestamp: 0) == .deliver)
        #expect(range.polled(partition: 0, offset: 1, timestamp: 0) == .deliver)
        #expect(range.polled(partition: 0, offset: 0, timestamp: 0) == .skip)  // older than the next expected
        #expect(range.nextOffset[0] == 2)
        #expect(range.isReading(0))
    }

    @Test func onlyAnEndOfPartitionAtTheNextExpectedOffsetEndsIt() {
        // A watermark that overstates the end: the records stop at 3, the watermark said 5.
        var range = Range(watermarks: [0: (0, 5)], from: .beginning, to: .latest)
        for offset in Int64(0)...2 {
            #expect(range.polled(partition: 0, offset: offset, timestamp: 0) == .deliver)
            #expect(range.delivered(partition: 0, offset: offset) == false)
        }
        #expect(range.reachedEnd(partition: 0, at: 2) == false)
        #expect(range.reachedEnd(partition: 0, at: 4) == false)
        #expect(range.reachedEnd(partition: 0, at: 3) == true)
        #expect(range.isFinished)
        #expect(range.reachedEnd(partition: 0, at: 3) == false)  // once
    }

    @Test func aRecordAtOrPastTheStopEndsThePartitionWithoutPassing() {
        var range = Range(watermarks: [0: (0, 10)], from: .beginning, to: .offset(partition: 0, offset: 2))
        #expect(range.polled(partition: 0, offset: 0, timestamp: 0) == .deliver)
        #expect(range.polled(partition: 0, offset: 2, timestamp: 0) == .skipAndEnd)  // offset 1 was compacted away
        #expect(range.isFinished)
        #expect(range.polled(partition: 0, offset: 3, timestamp: 0) == .skip)
    }

    @Test func anOffsetStartMovesOnlyItsPartitionAndNeverBelowTheLowWatermark() {
        let range = Range(watermarks: [0: (3, 9), 1: (0, 4)], from: .offset(partition: 0, offset: 1), to: .latest)
        #expect(range.assignment.map(\.offset) == [3, 0])
        let later = Range(watermarks: [0: (3, 9), 1: (0, 4)], from: .offset(partition: 1, offset: 2), to: .latest)
        #expect(later.assignment.map(\.offset) == [3, 2])
    }

    @Test func anOffsetEndStopsOnlyItsPartition() {
        let range = Range(watermarks: [0: (0, 9), 1: (0, 9)], from: .beginning, to: .offset(partition: 1, offset: 4))
        #expect(range.stopAt == [0: 9, 1: 4])
        let none = Range(watermarks: [0: (0, 9)], from: .offset(partition: 0, offset: 5), to: .offset(partition: 0, offset: 5))
        #expect(none.isFinished)
        #expect(none.assignment.isEmpty)
    }

    @Test func fromTheEndThereIsNothingToRead() {
        let range = Range(watermarks: [0: (0, 9), 1: (4, 4)], from: .end, to: .latest)
        #expect(range.isFinished)
        #expect(range.assignment.isEmpty)
    }

    @Test func aTimestampStartSkipsOlderRecordsUntilTheFirstNewEnoughOne() {
        // Some brokers answer offset 0 for every time lookup; the timestamps decide.
        var range = Range(watermarks: [0: (0, 5), 1: (0, 3)], from: .timestamp(base.addingTimeInterval(120)),
                          to: .latest, timeOffsets: [0: 0, 1: -1])
        #expect(range.assignment.map(\.partition) == [0])  // no record on 1 is that new: it starts at its end
        #expect(range.polled(partition: 0, offset: 0, timestamp: ms(0)) == .skip)
        #expect(range.polled(partition: 0, offset: 1, timestamp: ms(1)) == .skip)
        #expect(range.polled(partition: 0, offset: 2, timestamp: ms(2)) == .deliver)
        #expect(range.polled(partition: 0, offset: 3, timestamp: ms(1)) == .deliver)  // past the first: all pass
        #expect(range.delivered(partition: 0, offset: 3) == false)
    }

    @Test func aTimestampEndSkipsNewerRecordsAndAFilteredLastRecordEndsThePartition() {
        var range = Range(watermarks: [0: (0, 3)], from: .beginning, to: .timestamp(base.addingTimeInterval(60)))
        #expect(range.polled(partition: 0, offset: 0, timestamp: ms(1)) == .deliver)
        #expect(range.polled(partition: 0, offset: 1, timestamp: ms(2)) == .skip)
        #expect(range.polled(partition: 0, offset: 2, timestamp: ms(3)) == .skipAndEnd)
        #expect(range.isFinished)
    }

    @Test func recordsOfPartitionsNotReadAreSkipped() {
        var empty = Range()
        #expect(empty.isFinished)
        #expect(empty.polled(partition: 0, offset: 0, timestamp: 0) == .skip)
        var range = Range(watermarks: [0: (0, 2)], from: .beginning, to: .latest)
        #expect(range.polled(partition: 5, offset: 0, timestamp: 0) == .skip)
        #expect(range.reachedEnd(partition: 5, at: 0) == false)
        #expect(range.delivered(partition: 5, offset: 0) == false)
    }
}
