import Foundation

/// A serial executor on a thread of its own, for an actor that blocks: the embedded log's writer and
/// the state store, whose every commit waits for an fsync (or a database round trip), which takes as long as the disk wants (milliseconds on a busy one); running that on
/// the cooperative pool (two threads on a two-core machine) would stall every other task meanwhile.
public final class DedicatedThreadExecutor: SerialExecutor, @unchecked Sendable {
    // @unchecked: `jobs`, `threadRunning` and `stopped` are only touched with `condition` locked.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var threadRunning = false
    private var stopped = false
    private let name: String

    public init(name: String) { self.name = name }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        if threadRunning {
            condition.signal()
        } else {
            // Started lazily, and again after `stop`, so a late call on a closed log still runs
            // (and fails with `.closed`) instead of hanging.
            threadRunning = true
            let thread = Thread { [self] in runLoop() }
            thread.name = name
            thread.start()
        }
        condition.unlock()
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }

    /// Lets the thread end once its queue is empty.
    public func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func runLoop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            if jobs.isEmpty {
                threadRunning = false
                condition.unlock()
                return
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedSerialExecutor()) }
        }
    }
}
