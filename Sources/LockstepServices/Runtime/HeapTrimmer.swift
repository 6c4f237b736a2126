#if os(Linux)
import LockstepDrivers
import Logging
import ServiceLifecycle

/// Hands memory the process freed back to the operating system once enough of it has piled up in
/// the allocator (see `AllocatorMemory`). Without it a component's resident memory stays at the peak
/// of its busiest moment: after a backfill queues 10,000 runs and they finish, the coordinator's live
/// heap falls back to a few megabytes while glibc keeps the freed pages.
///
/// Checked every `interval` in real time (it decides nothing about runs); trimmed when the
/// allocator's free bytes rose `threshold` above their lowest since the last trim, so a process whose
/// free memory stays where it is is not trimmed again and again.
public struct HeapTrimmer: Service {
    public static let interval = Duration.seconds(1)
    /// 1 MiB: a trim costs about half a millisecond for a 20 MB heap, once a second at most. At 4 MiB
    /// the trim that came mid-burst was often the last: what the burst's end freed stayed below it.
    public static let threshold = 1 << 20
    /// Allocations this large or larger are mapped on their own and unmapped when freed (glibc's own
    /// starting point, kept from drifting up: see `AllocatorMemory.keepLargeBlocksMapped`).
    public static let largeBlock = 128 << 10

    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    /// Sets the process's allocator policy for large blocks, then trims until a graceful shutdown.
    public func run() async throws {
        AllocatorMemory.keepLargeBlocksMapped(atLeast: Self.largeBlock)
        var policy = Policy(threshold: Self.threshold)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.interval) } } catch { return }
            guard policy.shouldTrim(freeBytes: AllocatorMemory.freeBytes) else { continue }
            // The resident heap is read (from /proc) only for a debug line someone will see.
            let before = logger.logLevel <= .debug ? AllocatorMemory.residentAnonymousBytes : nil
            AllocatorMemory.returnFreePages()
            if let before, let after = AllocatorMemory.residentAnonymousBytes {
                logger.debug("returned freed memory to the system: resident heap \(before >> 20) → \(after >> 20) MiB")
            }
        }
    }

    /// When to trim, from the allocator's free bytes alone (a pure rule, tested with numbers).
    struct Policy {
        let threshold: Int
        /// The fewest free bytes seen since the last trim (none before the first: zero).
        private var lowest = 0

        init(threshold: Int) { self.threshold = threshold }

        mutating func shouldTrim(freeBytes: Int) -> Bool {
            lowest = min(lowest, freeBytes)
            guard freeBytes - lowest >= threshold else { return false }
            lowest = freeBytes
            return true
        }
    }
}
#endif
