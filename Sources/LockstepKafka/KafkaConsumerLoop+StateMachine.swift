import LockstepBus

extension KafkaConsumerLoop {
    /// The consumer loop's states as a value: the poll thread and the reader feed it what happened and
    /// perform the action it returns.
    ///
    /// Two things vary independently. `phase` says whether records still come (reading, ended, closing,
    /// closed). `fetch` is the back-pressure between librdkafka and the buffer: a full buffer first
    /// waits for the reader with the records left in librdkafka's queue, which bounds itself
    /// (`queued.max.messages.kbytes`); only a reader that makes no room for `pauseAfter` gets its
    /// partitions paused, because librdkafka drops a paused partition's prefetched records and fetches
    /// them again on resume. Fetching resumes once the reader has drained half the buffer.
    ///
    /// Time is an input (`now`), never read, so a test can drive every transition without sleeping.
    /// `Waiter` is whatever the reader parks on (a continuation in the loop, a token in tests). Not
    /// thread-safe: the loop keeps it under its lock.
    struct StateMachine<Waiter> {
        /// Whether records still come, and what a reader finds once the buffer is empty.
        enum Phase {
            /// The poll thread hands records over.
            case reading
            /// No more records will come (every partition read, or a fatal error): the reader drains
            /// the buffer, then gets nil or the failure.
            case ended(failure: (any Error)?)
            /// `close()` began: the buffer is dropped and the reader gets nil; the handle still lives,
            /// so the poll thread can leave the group.
            case closing(failure: (any Error)?)
            /// The handle is destroyed; jobs that lost the race with `close()` must not touch it.
            case closed(failure: (any Error)?)
        }

        /// Where fetching stands against the buffer's capacity.
        enum Fetch: Equatable {
            /// The buffer has room: poll.
            case flowing
            /// The buffer has been full since `since`; the poll thread is serving jobs, not waiting.
            case full(since: ContinuousClock.Instant)
            /// The buffer has been full since `since` and the poll thread waits for the reader.
            case waitingForRoom(since: ContinuousClock.Instant)
            /// The reader stalled: the assignment is paused, so polls serve only events (rebalances).
            case paused
        }

        /// What the poll thread does before it polls.
        enum PollAction: Equatable {
            case poll
            /// Wait on the lock's condition until then, or until signalled; then `roomWaitWoke`.
            case waitForRoom(until: ContinuousClock.Instant)
            /// The reader stalled: pause these partitions, then poll (for events only).
            case pauseThenPoll(Set<TopicPartition>)
            /// A job arrived while the buffer is still full: run it, then ask again.
            case runJobsFirst
        }

        /// What the loop does after the reader took records (either, both or neither).
        struct TakeActions: OptionSet {
            let rawValue: UInt8
            /// Queue a job on the poll thread that resumes paused fetching (`resumeJobRan`).
            static var queueResume: TakeActions { TakeActions(rawValue: 1) }
            /// Signal the lock's condition: the poll thread waits for room and now has some.
            static var wakePollThread: TakeActions { TakeActions(rawValue: 2) }
        }

        /// What a reader that found the buffer empty gets.
        enum ReadAction {
            /// A record arrived in between: return it.
            case record(BusRecord, TakeActions)
            /// The end: nil, or the failure that ended it.
            case end(failure: (any Error)?)
            /// Another reader is already waiting; one at a time.
            case rejectSecondReader
            /// The task was cancelled before it could wait.
            case cancelled
            /// The waiter is parked until records, the end or `close()` arrive.
            case suspended(TakeActions)
        }

        /// A parked reader to wake, and with what.
        struct Resumption {
            let waiter: Waiter
            let result: Result<BusRecord?, any Error>
        }

        let capacity: Int
        let pauseAfter: Duration
        private(set) var phase: Phase = .reading
        private(set) var fetch: Fetch = .flowing
        /// Partitions the handle currently reads.
        private(set) var assignment: Set<TopicPartition> = []
        /// A resume job is queued on the poll thread (so the reader queues at most one).
        private(set) var resumeQueued = false
        /// How often fetching was paused for a stalled reader (for tests and diagnostics).
        private(set) var pauses = 0
        private var buffer = RecordRing()
        /// At most one, and only while the buffer is empty: the poll thread hands it the next record.
        private var waiter: Waiter?

        init(capacity: Int, pauseAfter: Duration) {
            self.capacity = max(1, capacity)
            self.pauseAfter = pauseAfter
        }

        var bufferedCount: Int { buffer.count }
        var hasWaiter: Bool { waiter != nil }
        /// False once the handle is destroyed.
        var handleIsLive: Bool {
            if case .closed = phase { false } else { true }
        }

        private var lowWater: Int { capacity / 2 }
        private var isClosing: Bool {
            switch phase {
            case .reading, .ended: false
            case .closing, .closed: true
            }
        }

        // MARK: Poll thread

        /// The poll thread is about to poll: poll while the buffer has room, once fetching is paused
        /// (a poll then serves only events), or once no more records will come; wait while it is full.
        mutating func pollRequested(now: ContinuousClock.Instant) -> PollAction {
            let since: ContinuousClock.Instant
            switch fetch {
            case .paused:
                return .poll
            case .waitingForRoom:
                preconditionFailure("pollRequested while the poll thread waits for room: two poll threads")
            case .flowing:
                since = now
            case let .full(start):
                since = start  // a job cut the wait short: the stall keeps counting from the start
            }
            guard buffer.count >= capacity, case .reading = phase else {
                fetch = .flowing
                return .poll
            }
            fetch = .waitingForRoom(since: since)
            return decideRoomWait(now: now)
        }

        /// The poll thread's wait for room ended (signalled, timed out or spurious).
        mutating func roomWaitWoke(now: ContinuousClock.Instant) -> PollAction {
            switch fetch {
            case .waitingForRoom:
                return decideRoomWait(now: now)
            case let .full(since):
                // A job arrived: run it unless the reader made room meanwhile.
                guard !hasRoom else {
                    fetch = .flowing
                    return .poll
                }
                fetch = .full(since: since)
                return .runJobsFirst
            case .flowing, .paused:
                preconditionFailure("roomWaitWoke while fetch is \(fetch): the poll thread was not waiting")
            }
        }

        private var hasRoom: Bool { buffer.count <= lowWater || isClosing }

        private mutating func decideRoomWait(now: ContinuousClock.Instant) -> PollAction {
            guard case let .waitingForRoom(since) = fetch else { preconditionFailure("not waiting for room") }
            if hasRoom {
                fetch = .flowing
                return .poll
            }
            let deadline = since + pauseAfter
            if now < deadline { return .waitForRoom(until: deadline) }
            // Decided under the lock, so a reader that drains after this sees `.paused` and resumes.
            fetch = .paused
            pauses += 1
            return .pauseThenPoll(assignment)
        }

        /// A job was queued for the poll thread. True: signal the condition, so a wait for room ends
        /// and the job runs (the stall clock keeps running).
        mutating func jobQueued() -> Bool {
            guard case let .waitingForRoom(since) = fetch else { return false }
            fetch = .full(since: since)
            return true
        }

        /// The poll thread accepted `records`, in order: the first goes to a parked reader, the rest
        /// into the buffer. After `close()` began they are dropped (the group redelivers them).
        mutating func recordsPolled(_ records: [BusRecord]) -> Resumption? {
            guard !isClosing, !records.isEmpty else { return nil }
            var rest = records[...]
            var resumption: Resumption?
            if let waiter {
                self.waiter = nil
                resumption = Resumption(waiter: waiter, result: .success(rest.removeFirst()))
            }
            buffer.append(contentsOf: rest)
            return resumption
        }

        /// No more records will come (`failure`: why). The first failure sticks; a parked reader (the
        /// buffer is then empty) gets the end now.
        mutating func ended(failure: (any Error)? = nil) -> Resumption? {
            switch phase {
            case .reading:
                phase = .ended(failure: failure)
            case let .ended(first):
                phase = .ended(failure: first ?? failure)
            case let .closing(first):
                phase = .closing(failure: first ?? failure)
            case let .closed(first):
                phase = .closed(failure: first ?? failure)
            }
            guard buffer.isEmpty, let waiter else { return nil }
            self.waiter = nil
            return Resumption(waiter: waiter, result: endResult)
        }

        private var endResult: Result<BusRecord?, any Error> {
            switch phase {
            case .reading: .success(nil)
            case let .ended(failure), let .closing(failure), let .closed(failure):
                failure.map { .failure($0) } ?? .success(nil)
            }
        }

        /// The handle was given `partitions`; returns those to pause now (fetching is paused, and new
        /// partitions join the pause).
        mutating func partitionsAssigned(_ partitions: Set<TopicPartition>) -> Set<TopicPartition> {
            assignment.formUnion(partitions)
            return fetch == .paused ? partitions : []
        }

        /// The handle lost `partitions`: their buffered records go back (the new owner reads them from
        /// the commit).
        mutating func partitionsRevoked(_ partitions: Set<TopicPartition>) {
            assignment.subtract(partitions)
            discardBuffered(partitions)
        }

        /// A seek is about to move `partitions`: their buffered records are stale, and paused fetching
        /// must resume first (librdkafka resumes a paused partition at the application's last position,
        /// which would undo the seek). Returns the partitions to resume, if any.
        mutating func seeking(_ partitions: Set<TopicPartition>) -> Set<TopicPartition>? {
            discardBuffered(partitions)
            guard fetch == .paused else { return nil }
            fetch = .flowing
            return assignment
        }

        /// The resume job the reader queued runs: resume if the buffer is still drained (a seek may
        /// have resumed already) and the handle is not going away (a job queued as `close()` began
        /// may run after the handle is destroyed). Returns the partitions to resume, if any.
        mutating func resumeJobRan() -> Set<TopicPartition>? {
            resumeQueued = false
            guard buffer.count <= lowWater, fetch == .paused, !isClosing else { return nil }
            fetch = .flowing
            return assignment
        }

        private mutating func discardBuffered(_ partitions: Set<TopicPartition>) {
            guard !partitions.isEmpty, !buffer.isEmpty else { return }
            buffer.removeAll { partitions.contains(TopicPartition(topic: $0.position.topic, partition: $0.position.partition)) }
        }

        /// The poll thread destroyed the handle (last step of `close()`).
        mutating func handleDestroyed() {
            guard case let .closing(failure) = phase else {
                preconditionFailure("handleDestroyed in phase \(phase): only close() destroys the handle")
            }
            phase = .closed(failure: failure)
        }

        // MARK: Reader

        /// The reader takes the next buffered record, if there is one.
        mutating func takeOne() -> (BusRecord, TakeActions)? {
            guard let record = buffer.popFirst() else { return nil }
            return (record, afterTake())
        }

        /// The reader takes buffered records until `batch` holds `max`.
        mutating func take(into batch: inout [BusRecord], max: Int) -> TakeActions {
            while batch.count < max, let record = buffer.popFirst() { batch.append(record) }
            return afterTake()
        }

        /// A reader found the buffer empty and offers to park `waiter`.
        mutating func waitForRecord(_ waiter: Waiter, isCancelled: Bool) -> ReadAction {
            if let (record, actions) = takeOne() { return .record(record, actions) }
            switch phase {
            case .reading: break
            case .ended, .closing, .closed: return .end(failure: endFailure)
            }
            if self.waiter != nil { return .rejectSecondReader }
            if isCancelled { return .cancelled }
            self.waiter = waiter
            // An empty buffer is drained by any measure: resume a paused fetch now.
            return .suspended(queueResumeIfPaused())
        }

        /// The parked reader's task was cancelled: the waiter to fail, unless records or the end
        /// already took it.
        mutating func cancelWaiter() -> Waiter? {
            defer { waiter = nil }
            return waiter
        }

        /// `close()` was called. The first call drops the buffer and returns the parked reader to wake
        /// with nil (`.first`); later calls only wait for the first to finish.
        enum CloseAction {
            case first(wake: Waiter?)
            case alreadyClosing
        }

        mutating func closeRequested() -> CloseAction {
            switch phase {
            case .closing, .closed:
                return .alreadyClosing
            case .reading:
                phase = .closing(failure: nil)
            case let .ended(failure):
                phase = .closing(failure: failure)
            }
            buffer.removeAll { _ in true }
            defer { waiter = nil }
            return .first(wake: waiter)
        }

        private var endFailure: (any Error)? {
            if case let .failure(error) = endResult { error } else { nil }
        }

        private mutating func afterTake() -> TakeActions {
            guard buffer.count <= lowWater else { return [] }
            var actions = queueResumeIfPaused()
            if case .waitingForRoom = fetch { actions.insert(.wakePollThread) }
            return actions
        }

        private mutating func queueResumeIfPaused() -> TakeActions {
            guard fetch == .paused, !resumeQueued else { return [] }
            resumeQueued = true
            return .queueResume
        }
    }
}

/// A FIFO of records with O(1) pop from the front.
struct RecordRing {
    private var items: [BusRecord] = []
    private var head = 0

    var count: Int { items.count - head }
    var isEmpty: Bool { count == 0 }

    mutating func append(_ record: BusRecord) { items.append(record) }
    mutating func append(contentsOf records: ArraySlice<BusRecord>) { items.append(contentsOf: records) }

    mutating func popFirst() -> BusRecord? {
        guard head < items.count else { return nil }
        let record = items[head]
        head += 1
        if head > 256 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return record
    }

    mutating func removeAll(where drop: (BusRecord) -> Bool) {
        items = items[head...].filter { !drop($0) }
        head = 0
    }
}
