#if os(Linux)
import Glibc
import LockstepDrivers
@testable import LockstepServices
import Testing

/// Handing freed memory back to the system: when the trimmer decides to, and that a trim does give
/// back what glibc's allocator would otherwise keep.
@Suite struct HeapTrimmerTests {
    let mib = 1 << 20

    @Test func trimsOnceFreedMemoryRoseAThresholdAboveItsLowestSinceTheLastTrim() {
        var policy = HeapTrimmer.Policy(threshold: 4 * mib)
        let decisions = [3, 20, 20, 22, 2, 5, 6, 9].map { policy.shouldTrim(freeBytes: $0 * mib) }
        // Little freed at start; a burst freed (trim); the same free chunks, nothing new to give back;
        // reused (pages back in), then freed again: trimmed once 4 MiB above the lowest.
        #expect(decisions == [false, true, false, false, false, false, true, false])
    }

    /// 64 MiB in 1 KiB blocks, every 16th kept so the heap cannot shrink from its top: freeing the
    /// rest leaves the resident size where it was until the trim gives the free pages back.
    @Test func aTrimGivesBackTheFreePagesAnInterleavedHeapKeeps() throws {
        let (beforeTrim, afterTrim) = freeInterleavedThenTrim(total: 64 * mib, block: 1024, keepEvery: 16)
        let returned = beforeTrim - afterTrim
        #expect(returned >= 32 * mib, "resident heap \(beforeTrim >> 20) MiB before the trim, \(afterTrim >> 20) MiB after")
    }

    /// Synchronous, so one thread (one arena) allocates, frees and trims without another task between.
    private func freeInterleavedThenTrim(total: Int, block: Int, keepEvery: Int) -> (Int, Int) {
        var blocks: [UnsafeMutableRawPointer] = []
        blocks.reserveCapacity(total / block)
        for _ in 0..<(total / block) {
            let pointer = malloc(block)!
            memset(pointer, 1, block)  // touched: resident
            blocks.append(pointer)
        }
        for (index, pointer) in blocks.enumerated() where index % keepEvery != 0 { free(pointer) }
        let before = AllocatorMemory.residentAnonymousBytes ?? 0
        AllocatorMemory.returnFreePages()
        let after = AllocatorMemory.residentAnonymousBytes ?? Int.max
        for (index, pointer) in blocks.enumerated() where index % keepEvery == 0 { free(pointer) }
        return (before, after)
    }
}
#endif
