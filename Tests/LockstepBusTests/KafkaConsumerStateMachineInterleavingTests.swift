import Foundation
import LockstepBus
@testable import LockstepKafka
import Testing

/// The consumer loop's state machine under random interleavings of everything that can happen to it.
@Suite struct KafkaConsumerStateMachineInterleavingTests {
    typealias Machine = KafkaConsumerLoop.StateMachine<Int>

    let t0 = ContinuousClock.now
    let p0 = TopicPartition(topic: "tasks.commands", partition: 0)
    let p1 = TopicPartition(topic: "tasks.commands", partition: 1)

    func record(_ partition: Int32, _ offset: Int64) -> BusRecord {
        BusRecord(position: RecordPosition(topic: "tasks.commands", partition: partition, offset: offset),
                  key: nil, value: [], headers: [], timestamp: Date(timeIntervalSince1970: 0))
    }

    /// A poll thread that obeys the actions, a reader, jobs, rebalances, seeks and a close, interleaved
    /// by a seeded generator: no record is handed out twice, none is lost unless a revoke, seek or close
    /// dropped it, each partition's records come out in order, and the buffer never holds more than
    /// its capacity plus one poll batch.
    @Test(arguments: 0..<200) func anyInterleavingKeepsEveryRecordOnceAndInOrder(seed: Int) throws {
        var rng = SplitMix64(seed: UInt64(seed))
        let capacity = Int(rng.next() % 8) + 1, batchMax = Int(rng.next() % 6) + 1
        var m = Machine(capacity: capacity, pauseAfter: .milliseconds(500))
        let partitions: [TopicPartition] = [p0, p1]
        _ = m.partitionsAssigned(Set(partitions))
        var now = t0
        var nextOffset: [Int32: Int64] = [0: 0, 1: 0]
        var pausedPartitions: Set<TopicPartition> = []
        var waitingPollThread = false
        var resumeJobs = 0
        var parked: Int?
        var handedOut: [BusRecord] = []
        var dropped: Set<RecordPosition> = []
        var polled: [BusRecord] = []
        var closed = false

        func apply(_ action: Machine.PollAction) {
            switch action {
            case .waitForRoom: waitingPollThread = true
            case let .pauseThenPoll(ps): pausedPartitions.formUnion(ps); poll()
            case .poll: poll()
            case .runJobsFirst: break
            }
        }
        func poll() {
            let fetchable = partitions.filter { m.assignment.contains($0) && !pausedPartitions.contains($0) }
            guard let tp = fetchable.randomElement(using: &rng) else { return }
            let count = Int(rng.next() % UInt64(batchMax)) + 1
            let batch = (0..<count).map { _ in
                defer { nextOffset[tp.partition]! += 1 }
                return record(tp.partition, nextOffset[tp.partition]!)
            }
            polled += batch
            if let resumption = m.recordsPolled(batch) {
                #expect(resumption.waiter == parked)
                parked = nil
                handedOut.append(try! resumption.result.get()!)
            }
            if closed { dropped.formUnion(batch.map(\.position)) }
            #expect(m.bufferedCount <= capacity - 1 + batchMax)
        }
        func took(_ actions: Machine.TakeActions) {
            guard actions.contains(.queueResume) else { return }
            resumeJobs += 1
            _ = m.jobQueued()  // queuing the job wakes the poll thread
        }
        func dropBuffered(_ ps: Set<TopicPartition>) {
            // What the machine holds of those partitions is what the revoke or seek drops.
            let handed = Set(handedOut.map(\.position))
            for r in polled where ps.contains(TopicPartition(topic: r.topic, partition: r.position.partition))
                && !handed.contains(r.position) { dropped.insert(r.position) }
        }

        for _ in 0..<300 {
            now += .milliseconds(Int(rng.next() % 200))
            switch rng.next() % 10 {
            case 0, 1:  // the poll thread
                if waitingPollThread {
                    let action = m.roomWaitWoke(now: now)
                    if case .waitForRoom = action { continue }
                    waitingPollThread = false
                    apply(action)
                } else {
                    apply(m.pollRequested(now: now))
                }
            case 2, 3:
                if parked == nil, let (r, actions) = m.takeOne() { handedOut.append(r); took(actions) }
            case 4:
                guard parked == nil else { continue }
                var batch: [BusRecord] = []
                took(m.take(into: &batch, max: Int(rng.next() % 5) + 1))
                handedOut += batch
            case 5:
                guard parked == nil else { continue }
                switch m.waitForRecord(7, isCancelled: false) {
                case let .record(r, actions): handedOut.append(r); took(actions)
                case let .suspended(actions): parked = 7; took(actions)
                case .end: #expect(closed)
                case .rejectSecondReader, .cancelled: Issue.record("one reader, never cancelled")
                }
            case 6:  // a job (a commit) is queued; queued jobs run when the poll thread is not blocked
                _ = m.jobQueued()
                if !waitingPollThread, resumeJobs > 0 {
                    resumeJobs -= 1
                    if let ps = m.resumeJobRan() { pausedPartitions.subtract(ps) }
                }
            case 7:  // jobs only run when the poll thread is not blocked in a wait
                guard !waitingPollThread else { continue }
                let tp = partitions.randomElement(using: &rng)!
                if m.assignment.contains(tp) {
                    dropBuffered([tp])
                    m.partitionsRevoked([tp])
                    pausedPartitions.remove(tp)
                } else {
                    pausedPartitions.formUnion(m.partitionsAssigned([tp]))
                }
            case 8:
                guard !waitingPollThread else { continue }
                let tp = partitions.randomElement(using: &rng)!
                dropBuffered([tp])
                if let ps = m.seeking([tp]) { pausedPartitions.subtract(ps) }
            default:
                if rng.next() % 20 == 0, !closed {
                    let handed = Set(handedOut.map(\.position))
                    dropped.formUnion(polled.map(\.position).filter { !handed.contains($0) })
                    if case let .first(wake) = m.closeRequested() { #expect(wake == parked) }
                    parked = nil
                    closed = true
                }
            }
        }
        #expect(Set(handedOut.map(\.position)).count == handedOut.count, "a record was handed out twice")
        #expect(dropped.isDisjoint(with: handedOut.map(\.position)), "a dropped record was handed out")
        for partition in [Int32(0), 1] {
            let offsets = handedOut.filter { $0.position.partition == partition }.map(\.position.offset)
            #expect(offsets == offsets.sorted(), "partition \(partition) out of order")
        }
        // Whatever is neither handed out nor dropped is still in the buffer.
        var rest: [BusRecord] = []
        _ = m.take(into: &rest, max: .max)
        let accounted = Set(handedOut.map(\.position)).union(dropped).union(rest.map(\.position))
        #expect(accounted == Set(polled.map(\.position)), "capacity \(capacity), batch \(batchMax)")
    }
}

/// A seeded generator, so a failing interleaving is reproduced by its seed.
private struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
