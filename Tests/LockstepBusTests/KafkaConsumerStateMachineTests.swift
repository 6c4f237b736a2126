import Foundation
import LockstepBus
@testable import LockstepKafka
import Testing

/// The consumer loop's state machine alone, driven with inputs: no broker, no threads, no clock
/// (time is an argument), so every transition is exact.
@Suite struct KafkaConsumerStateMachineTests {
    /// Waiters are tokens here; the loop parks continuations.
    typealias Machine = KafkaConsumerLoop.StateMachine<Int>

    let t0 = ContinuousClock.now
    let p0 = TopicPartition(topic: "tasks.commands", partition: 0)
    let p1 = TopicPartition(topic: "tasks.commands", partition: 1)
    let p2 = TopicPartition(topic: "tasks.commands", partition: 2)

    func machine(capacity: Int = 4) -> Machine {
        Machine(capacity: capacity, pauseAfter: .milliseconds(500))
    }

    func records(_ partition: Int32, _ offsets: ClosedRange<Int64>) -> [BusRecord] {
        offsets.map { record(partition, $0) }
    }

    func record(_ partition: Int32, _ offset: Int64) -> BusRecord {
        BusRecord(position: RecordPosition(topic: "tasks.commands", partition: partition, offset: offset),
                  key: nil, value: [], headers: [], timestamp: Date(timeIntervalSince1970: 0))
    }

    /// A machine whose buffer is full and whose poll thread waits for room since `t0`.
    func waitingForRoom() -> Machine {
        var m = machine()
        _ = m.partitionsAssigned([p0, p1])
        #expect(m.recordsPolled(records(0, 0...3)) == nil)
        #expect(m.pollRequested(now: t0) == .waitForRoom(until: t0 + .milliseconds(500)))
        return m
    }

    /// A machine whose stalled reader got the assignment paused.
    func paused() -> Machine {
        var m = waitingForRoom()
        #expect(m.roomWaitWoke(now: t0 + .milliseconds(500)) == .pauseThenPoll([p0, p1]))
        return m
    }

    // MARK: Reading

    @Test func aParkedReaderGetsTheFirstRecordAndTheRestIsBuffered() throws {
        var m = machine()
        guard case .suspended(let actions) = m.waitForRecord(1, isCancelled: false) else {
            Issue.record("an empty buffer did not park the reader")
            return
        }
        #expect(actions.isEmpty)
        #expect(m.hasWaiter)
        let polled = m.recordsPolled(records(0, 0...2))
        let resumption = try #require(polled)
        #expect(resumption.waiter == 1)
        #expect(try resumption.result.get() == record(0, 0))
        #expect(!m.hasWaiter)
        #expect(m.bufferedCount == 2)
        #expect(m.takeOne()?.0 == record(0, 1))
        #expect(m.takeOne()?.0 == record(0, 2))
        #expect(m.takeOne() == nil)
    }

    @Test func aBatchTakesBufferedRecordsInOrderUpToItsMaximum() {
        var m = machine(capacity: 10)
        _ = m.recordsPolled(records(0, 0...5))
        var batch = [record(9, 9)]
        #expect(m.take(into: &batch, max: 4).isEmpty)
        #expect(batch == [record(9, 9)] + records(0, 0...2))
        #expect(m.bufferedCount == 3)
    }

    @Test func aReaderFindingARecordTakesItInsteadOfParking() {
        var m = machine()
        _ = m.recordsPolled([record(0, 7)])
        guard case .record(let got, _) = m.waitForRecord(1, isCancelled: false) else {
            Issue.record("a buffered record was not handed out")
            return
        }
        #expect(got == record(0, 7))
        #expect(!m.hasWaiter)
    }

    @Test func aSecondReaderIsRejectedWhileOneWaits() {
        var m = machine()
        _ = m.waitForRecord(1, isCancelled: false)
        guard case .rejectSecondReader = m.waitForRecord(2, isCancelled: false) else {
            Issue.record("two readers parked at once")
            return
        }
        #expect(m.cancelWaiter() == 1)
    }

    @Test func aCancelledReaderDoesNotParkAndACancelledWaiterIsReturnedOnce() {
        var m = machine()
        guard case .cancelled = m.waitForRecord(1, isCancelled: true) else {
            Issue.record("a cancelled task parked")
            return
        }
        #expect(!m.hasWaiter)
        _ = m.waitForRecord(2, isCancelled: false)
        #expect(m.cancelWaiter() == 2)
        #expect(m.cancelWaiter() == nil)
        #expect(m.recordsPolled([record(0, 0)]) == nil)  // nobody to hand it to: buffered
        #expect(m.bufferedCount == 1)
    }

    // MARK: Back-pressure

    @Test func pollsWhileTheBufferHasRoom() {
        var m = machine()
        _ = m.recordsPolled(records(0, 0...2))
        #expect(m.pollRequested(now: t0) == .poll)
        #expect(m.fetch == .flowing)
    }

    @Test func aFullBufferWaitsForTheReaderUntilTheStallDeadline() {
        var m = waitingForRoom()
        #expect(m.fetch == .waitingForRoom(since: t0))
        // A spurious or early wake-up without room: wait on, for the same deadline.
        #expect(m.roomWaitWoke(now: t0 + .milliseconds(100)) == .waitForRoom(until: t0 + .milliseconds(500)))
        #expect(m.roomWaitWoke(now: t0 + .milliseconds(499)) == .waitForRoom(until: t0 + .milliseconds(500)))
        #expect(m.pauses == 0)
    }

    @Test func drainingHalfTheBufferWakesThePollThreadAndItPollsAgain() {
        var m = waitingForRoom()
        #expect(m.takeOne()?.1 == [])  // 3 left: more than half
        #expect(m.takeOne()?.1 == [.wakePollThread])  // 2 left: half
        #expect(m.roomWaitWoke(now: t0 + .milliseconds(200)) == .poll)
        #expect(m.fetch == .flowing)
        #expect(m.pauses == 0)
    }

    @Test func aReaderStalledPastTheDeadlineGetsTheAssignmentPaused() {
        var m = paused()
        #expect(m.fetch == .paused)
        #expect(m.pauses == 1)
        // Paused, the poll thread polls for events (rebalances, commit answers) however full the buffer.
        #expect(m.pollRequested(now: t0 + .seconds(5)) == .poll)
        #expect(m.fetch == .paused)
    }

    @Test func aPausedFetchResumesOnceTheReaderDrainedHalfAndOnlyOnce() {
        var m = paused()
        #expect(m.takeOne()?.1 == [])
        #expect(m.takeOne()?.1 == [.queueResume])
        #expect(m.resumeQueued)
        #expect(m.takeOne()?.1 == [])  // one resume job is enough
        #expect(m.resumeJobRan() == [p0, p1])
        #expect(m.fetch == .flowing)
        #expect(!m.resumeQueued)
    }

    @Test func aResumeJobFindingTheBufferRefilledLeavesThePauseAndTheNextTakeQueuesAnother() {
        var m = paused()
        var batch: [BusRecord] = []
        #expect(m.take(into: &batch, max: 2) == [.queueResume])
        _ = m.recordsPolled(records(1, 0...1))  // the poll batch that was in flight when it paused
        #expect(m.resumeJobRan() == nil)
        #expect(m.fetch == .paused)
        #expect(!m.resumeQueued)
        #expect(m.takeOne()?.1 == [])  // 3 left
        #expect(m.takeOne()?.1 == [.queueResume])  // 2 left: half drained again
        #expect(m.resumeJobRan() == [p0, p1])
    }

    @Test func aReaderParkingOnAnEmptyBufferResumesAPausedFetch() {
        var m = paused()
        m.partitionsRevoked([p0])  // every buffered record was p0's
        #expect(m.bufferedCount == 0)
        guard case .suspended(let actions) = m.waitForRecord(1, isCancelled: false) else {
            Issue.record("an empty buffer did not park the reader")
            return
        }
        #expect(actions == [.queueResume])
        #expect(m.resumeJobRan() == [p1])
    }

    @Test func aJobCutsTheWaitShortAndTheStallKeepsCounting() {
        var m = waitingForRoom()
        #expect(m.jobQueued() == true)  // signal: the poll thread waits
        #expect(m.fetch == .full(since: t0))
        #expect(m.roomWaitWoke(now: t0 + .milliseconds(100)) == .runJobsFirst)
        #expect(m.fetch == .full(since: t0))
        // After the job, the same deadline: jobs do not reset how long the reader has stalled.
        #expect(m.pollRequested(now: t0 + .milliseconds(200)) == .waitForRoom(until: t0 + .milliseconds(500)))
        #expect(m.jobQueued() == true)
        #expect(m.roomWaitWoke(now: t0 + .milliseconds(600)) == .runJobsFirst)  // a job wins over the deadline
        #expect(m.pollRequested(now: t0 + .milliseconds(700)) == .pauseThenPoll([p0, p1]))  // deadline passed
        #expect(m.pauses == 1)
    }

    @Test func aJobWhileThePollThreadIsNotWaitingNeedsNoSignal() {
        var m = machine()
        #expect(m.jobQueued() == false)
        #expect(m.fetch == .flowing)
        var p = paused()
        #expect(p.jobQueued() == false)
        #expect(p.fetch == .paused)
    }

    @Test func aJobArrivingAsTheReaderMadeRoomPolls() {
        var m = waitingForRoom()
        #expect(m.jobQueued() == true)
        var batch: [BusRecord] = []
        #expect(m.take(into: &batch, max: 2).isEmpty)  // no longer waiting: no signal needed
        #expect(m.roomWaitWoke(now: t0 + .milliseconds(100)) == .poll)
        #expect(m.fetch == .flowing)
    }

    @Test func roomBelowCapacityAfterAJobRestartsTheStallClock() {
        var m = waitingForRoom()
        _ = m.jobQueued()
        _ = m.roomWaitWoke(now: t0 + .milliseconds(100))
        _ = m.takeOne()  // 3 of 4: room for a poll, though not half drained
        #expect(m.pollRequested(now: t0 + .milliseconds(150)) == .poll)
        #expect(m.fetch == .flowing)
        _ = m.recordsPolled([record(1, 0)])
        #expect(m.pollRequested(now: t0 + .milliseconds(300)) == .waitForRoom(until: t0 + .milliseconds(800)))
    }

    @Test func newPartitionsJoinAPauseInProgressOnly() {
        var m = machine()
        #expect(m.partitionsAssigned([p0]).isEmpty)
        var p = paused()
        #expect(p.partitionsAssigned([p2]) == [p2])
        #expect(p.assignment == [p0, p1, p2])
        _ = p.takeOne()
        _ = p.takeOne()
        #expect(p.resumeJobRan() == [p0, p1, p2])
    }

    @Test func aRevokeDropsOnlyThoseBufferedRecordsAndKeepsTheOrder() {
        var m = machine(capacity: 10)
        _ = m.partitionsAssigned([p0, p1])
        _ = m.recordsPolled([record(0, 0), record(1, 0), record(0, 1), record(1, 1)])
        m.partitionsRevoked([p0])
        #expect(m.assignment == [p1])
        var batch: [BusRecord] = []
        _ = m.take(into: &batch, max: 10)
        #expect(batch == [record(1, 0), record(1, 1)])
    }

    @Test func aSeekDropsTheMovedPartitionsRecordsAndResumesAPauseFirst() {
        var m = machine()
        _ = m.partitionsAssigned([p0, p1])
        _ = m.recordsPolled([record(0, 0), record(1, 0)])
        #expect(m.seeking([p0]) == nil)  // not paused: nothing to resume
        #expect(m.bufferedCount == 1)
        var p = paused()
        _ = p.takeOne()
        #expect(p.takeOne()?.1 == [.queueResume])
        #expect(p.seeking([p0]) == [p0, p1])
        #expect(p.fetch == .flowing)
        #expect(p.bufferedCount == 0)
        #expect(p.resumeJobRan() == nil)  // the seek resumed already
        #expect(!p.resumeQueued)
    }

    // MARK: Ended

    @Test func theEndWakesAParkedReaderWithNil() throws {
        var m = machine()
        _ = m.waitForRecord(1, isCancelled: false)
        let ended = m.ended()
        let resumption = try #require(ended)
        #expect(resumption.waiter == 1)
        #expect(try resumption.result.get() == nil)
        guard case .ended(nil) = m.phase else {
            Issue.record("phase is \(m.phase)")
            return
        }
        guard case .end(nil) = m.waitForRecord(2, isCancelled: false) else {
            Issue.record("a reader after the end was not told so")
            return
        }
    }

    @Test func afterAFailureTheBufferDrainsFirstThenTheFirstFailureIsThrown() {
        var m = machine()
        _ = m.recordsPolled(records(0, 0...1))
        #expect(m.ended(failure: Failure(id: 1)) == nil)  // records to drain: nobody waits
        #expect(m.ended(failure: Failure(id: 2)) == nil)
        _ = m.recordsPolled([record(0, 2)])  // the poll batch in flight still lands
        #expect(m.takeOne()?.0 == record(0, 0))
        #expect(m.takeOne()?.0 == record(0, 1))
        guard case .record(let last, _) = m.waitForRecord(1, isCancelled: false) else {
            Issue.record("the buffered record was lost")
            return
        }
        #expect(last == record(0, 2))
        guard case .end(let failure?) = m.waitForRecord(1, isCancelled: false) else {
            Issue.record("the failure was lost")
            return
        }
        #expect((failure as? Failure)?.id == 1)
    }

    @Test func anEndedLoopPollsForEventsHoweverFullTheBuffer() {
        var m = machine()
        _ = m.recordsPolled(records(0, 0...5))
        _ = m.ended()
        #expect(m.pollRequested(now: t0) == .poll)
        #expect(m.fetch == .flowing)
    }

    // MARK: Closing and closed

    @Test func closeDropsTheBufferWakesTheReaderWithNilAndHappensOnce() {
        var m = machine()
        _ = m.waitForRecord(1, isCancelled: false)
        guard case .first(wake: 1) = m.closeRequested() else {
            Issue.record("the parked reader was not woken")
            return
        }
        guard case .alreadyClosing = m.closeRequested() else {
            Issue.record("close ran twice")
            return
        }
        var n = machine()
        _ = n.recordsPolled(records(0, 0...3))
        guard case .first(wake: nil) = n.closeRequested() else {
            Issue.record("close without a reader")
            return
        }
        #expect(n.bufferedCount == 0)
        #expect(n.takeOne() == nil)
        guard case .end(nil) = n.waitForRecord(2, isCancelled: false) else {
            Issue.record("a read after close did not end")
            return
        }
    }

    @Test func recordsPolledAfterCloseBeganAreDropped() {
        var m = machine()
        _ = m.closeRequested()
        #expect(m.recordsPolled(records(0, 0...1)) == nil)
        #expect(m.bufferedCount == 0)
    }

    @Test func closeEndsAWaitForRoomAndThePollThreadPollsToTheEnd() {
        var m = waitingForRoom()
        _ = m.closeRequested()
        #expect(m.roomWaitWoke(now: t0 + .milliseconds(10)) == .poll)
        _ = m.recordsPolled(records(1, 0...9))
        #expect(m.pollRequested(now: t0 + .seconds(1)) == .poll)
        #expect(m.pauses == 0)
    }

    @Test func closeKeepsAFailureFromBeforeOrDuringIt() {
        var m = machine()
        _ = m.ended(failure: Failure(id: 1))
        _ = m.closeRequested()
        guard case .end(let failure?) = m.waitForRecord(1, isCancelled: false), (failure as? Failure)?.id == 1 else {
            Issue.record("the failure before close was lost")
            return
        }
        var n = machine()
        _ = n.closeRequested()
        _ = n.ended(failure: Failure(id: 2))
        n.handleDestroyed()
        _ = n.ended()  // close's own end after destroying the handle
        guard case .closed(let kept?) = n.phase, (kept as? Failure)?.id == 2 else {
            Issue.record("phase is \(n.phase)")
            return
        }
    }

    @Test func theHandleIsLiveUntilDestroyed() {
        var m = machine()
        #expect(m.handleIsLive)
        _ = m.ended()
        #expect(m.handleIsLive)
        _ = m.closeRequested()
        #expect(m.handleIsLive)  // the teardown still leaves the group with it
        m.handleDestroyed()
        #expect(!m.handleIsLive)
        guard case .alreadyClosing = m.closeRequested() else {
            Issue.record("close after the handle was destroyed")
            return
        }
    }

    @Test func aResumeJobQueuedAsCloseBeganDoesNotTouchTheHandle() {
        var m = paused()
        _ = m.takeOne()
        #expect(m.takeOne()?.1 == [.queueResume])
        _ = m.closeRequested()
        m.handleDestroyed()
        #expect(m.resumeJobRan() == nil)
    }

    // MARK: Illegal transitions

    @Test func pollingWhileThePollThreadWaitsIsAProgrammingError() async {
        await #expect(processExitsWith: .failure) {
            var m = KafkaConsumerLoop.StateMachine<Int>(capacity: 1, pauseAfter: .milliseconds(500))
            _ = m.recordsPolled([BusRecord(position: RecordPosition(topic: "t", partition: 0, offset: 0),
                                           key: nil, value: [], headers: [], timestamp: Date())])
            let now = ContinuousClock.now
            _ = m.pollRequested(now: now)
            _ = m.pollRequested(now: now)
        }
    }

    @Test func wakingFromAWaitThatNeverBeganIsAProgrammingError() async {
        await #expect(processExitsWith: .failure) {
            var m = KafkaConsumerLoop.StateMachine<Int>(capacity: 1, pauseAfter: .milliseconds(500))
            _ = m.roomWaitWoke(now: .now)
        }
    }

    @Test func destroyingTheHandleOutsideCloseIsAProgrammingError() async {
        await #expect(processExitsWith: .failure) {
            var m = KafkaConsumerLoop.StateMachine<Int>(capacity: 1, pauseAfter: .milliseconds(500))
            _ = m.ended()
            m.handleDestroyed()
        }
    }
}

private struct Failure: Error {
    let id: Int
}
