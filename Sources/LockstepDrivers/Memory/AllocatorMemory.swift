#if os(Linux)
import CMalloc
import Foundation

/// What glibc's allocator holds, and handing its free pages back to the operating system.
///
/// glibc keeps freed memory in its arenas for reuse and returns to the system only what is free at
/// the very top of the main heap. A burst of work that frees in another order (a backfill queueing
/// 10,000 runs, a rebuild, a large API page) leaves the process's resident size at the burst's peak
/// long after its live heap fell back. `malloc_trim(0)` gives back every whole free page of every
/// arena (`MADV_DONTNEED`); the chunks stay free for reuse, and reusing them faults the pages in again.
public enum AllocatorMemory {
    /// Bytes in free chunks of every arena: freed by the process, kept by the allocator. Trimming
    /// does not lower it (the chunks stay free; only their pages go back).
    public static var freeBytes: Int { Int(mallinfo2().fordblks) }

    /// Gives the free pages of every arena back to the operating system; true when there were any.
    /// About half a millisecond for 20 MB on this project's CI machine.
    @discardableResult
    public static func returnFreePages() -> Bool { malloc_trim(0) == 1 }

    /// Gives every allocation of at least `bytes` a mapping of its own, returned to the system when
    /// it is freed. glibc starts there (128 KiB) but raises the threshold, up to 32 MiB, each time
    /// such a block is freed; past that, large short-lived buffers (a table of 9,000 queued runs as it
    /// grows, a large page of results) come from the arenas and their pages stay resident after they
    /// are freed, scattered among live chunks where trimming cannot reach whole pages.
    public static func keepLargeBlocksMapped(atLeast bytes: Int) {
        _ = mallopt(M_MMAP_THRESHOLD, Int32(bytes))
    }

    /// This process's resident anonymous memory (heap, stacks, anonymous mappings) in bytes, from
    /// `/proc/self/status`; nil if it cannot be read.
    public static var residentAnonymousBytes: Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("RssAnon:") }),
              let kiB = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap({ Int($0) })
        else { return nil }
        return kiB * 1024
    }
}
#endif
