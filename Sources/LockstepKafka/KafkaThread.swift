import Foundation

/// A dedicated OS thread serving one librdkafka handle.
///
/// librdkafka's poll calls block until an event arrives or a timeout passes; on Swift's cooperative pool
/// that would starve every other task (the pool has one thread per core). Each handle therefore gets a
/// thread of its own that alternates between running queued jobs (commit, seek, close — anything that must
/// be ordered with the callbacks the poll serves) and one blocking `step` (a poll with a timeout).
/// `wake` interrupts that blocking step (`rd_kafka_queue_yield`) so a new job runs without waiting out
/// the timeout; there is no busy loop.
final class KafkaThread: @unchecked Sendable {
    // Safe to share: `jobs`, `stopping` and `exited` are only touched under `condition`; `step`, `wake`
    // and `onExit` are set once at init and only called from the thread itself (or `wake`, which is
    // thread-safe by contract).
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var stopping = false
    private var exited = false
    private var exitWaiters: [CheckedContinuation<Void, Never>] = []
    private let step: (() -> Void)?
    private let wake: (@Sendable () -> Void)?
    private var onExit: (() -> Void)?

    /// `step` is one blocking wait for events (nil: the thread only runs jobs); `wake` cuts it short.
    init(name: String, step: (() -> Void)?, wake: (@Sendable () -> Void)?) {
        self.step = step
        self.wake = wake
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Runs `job` on the thread, after the jobs already queued.
    func enqueue(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        let accepted = !exited
        if accepted { jobs.append(job) }
        condition.signal()
        condition.unlock()
        if accepted { wake?() } else { job() }
    }

    /// Runs `body` on the thread and returns its result to the awaiting task.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            enqueue { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Stops after the queued jobs; `cleanup` runs last, on the thread (destroy the handle there).
    func stop(then cleanup: (() -> Void)? = nil) {
        condition.lock()
        if let cleanup, onExit == nil { onExit = cleanup }
        stopping = true
        condition.signal()
        condition.unlock()
        wake?()
    }

    /// Waits until the thread has run its cleanup and ended.
    func join() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            condition.lock()
            if exited {
                condition.unlock()
                continuation.resume()
            } else {
                exitWaiters.append(continuation)
                condition.unlock()
            }
        }
    }

    private func loop() {
        while true {
            condition.lock()
            if step == nil {
                while jobs.isEmpty && !stopping { condition.wait() }
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            let stop = stopping && batch.isEmpty
            condition.unlock()
            for job in batch { job() }
            if stop { break }
            if !batch.isEmpty { continue }
            step?()
        }
        condition.lock()
        let cleanup = onExit
        onExit = nil
        condition.unlock()
        cleanup?()
        condition.lock()
        exited = true
        let late = jobs
        jobs.removeAll()
        let waiters = exitWaiters
        exitWaiters.removeAll()
        condition.unlock()
        // Jobs queued while cleanup ran still complete (they see a closed client and fail fast).
        for job in late { job() }
        for waiter in waiters { waiter.resume() }
    }
}

/// A librdkafka pointer handed to another thread; the owner documents why that is safe where it does it.
struct SendablePointer: @unchecked Sendable {
    let raw: OpaquePointer
    init(_ raw: OpaquePointer) { self.raw = raw }
}
