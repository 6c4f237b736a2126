import Foundation

#if os(Linux)
import Glibc
import Synchronization

/// Tells the log that its file may have changed under it: another process (`lockstep trigger`, a
/// second standalone) appended. The kernel reports every write to the log's write-ahead file
/// (inotify), and the log then asks SQLite whether the data changed (`PRAGMA data_version`), ringing
/// its waiting consumers only if so. Without this, such an append waits for the 100 ms poll, which
/// stays as the fallback (other systems, a file system without inotify).
///
/// One thread per log, blocked in `poll(2)` on the inotify descriptor. This process's own writes are
/// reported too: a busy log costs at most one check per 2 ms (events are drained together), each a
/// `PRAGMA data_version` on the log's thread.
///
/// It watches the write-ahead file for writes and the directory only for that file's creation. A
/// watch on the directory's writes, as before, reported every write to every file beside the log:
/// `lockstep standalone` keeps its state store and task logs in the same directory, so each of
/// their page writes queued an event, woke this thread and cost the writing thread a wake-up in
/// the kernel (a tenth of the state store's thread during a rebuild).
final class EmbeddedLogFileWatcher: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let ignored = Atomic<Int>(0)
    private let seen = Atomic<Int>(0)

    /// Events drained that were not about the log's write-ahead file (for tests: none, when the
    /// directory holds other files being written).
    var ignoredEvents: Int { ignored.load(ordering: .relaxed) }
    /// Wake-ups that found the write-ahead file written or created (the follow-up checks not counted).
    var walWakeUps: Int { seen.load(ordering: .relaxed) }

    /// Nil where inotify is not available (the poll alone then finds other processes' appends).
    init?(logPath: String, changed: @escaping @Sendable () -> Void) {
        let url = URL(fileURLWithPath: logPath)
        let wal = (path: logPath + "-wal", name: url.lastPathComponent + "-wal")
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        // The directory first, for the file's creation: SQLite deletes the write-ahead file when
        // its last connection closes and creates it again, and a watch follows a file, not a name.
        guard inotify_add_watch(fd, url.deletingLastPathComponent().path, UInt32(IN_CREATE | IN_MOVED_TO)) >= 0 else {
            close(fd)
            return nil
        }
        let thread = Thread { [self] in
            Self.watch(fd, wal: wal, stopped: stopped, ignored: ignored, seen: seen, changed: changed)
            close(fd)
        }
        thread.name = "lockstep-log-watch"
        thread.start()
    }

    /// Ends the thread within one poll timeout (it owns and closes the descriptor).
    func stop() { stopped.store(true, ordering: .releasing) }

    /// A write to the write-ahead file comes before its commit is visible (SQLite syncs the file and
    /// then publishes the commit in its shared-memory index, which makes no event), so a check right
    /// after the write can be too early. After each burst of writes the log is checked at once and
    /// again after each of these pauses (ms), until the next write or the last pause: about 1.4 s
    /// of follow-ups, a handful of checks per burst, and a commit visible whenever it lands in them.
    static let followUps: [Int32] = [2, 8, 32, 128, 256, 1_000]

    private static func watch(
        _ fd: Int32, wal: (path: String, name: String), stopped: borrowing Atomic<Bool>, ignored: borrowing Atomic<Int>,
        seen: borrowing Atomic<Int>, changed: @Sendable () -> Void
    ) {
        let bufferSize = 16 * (MemoryLayout<inotify_event>.size + Int(NAME_MAX) + 1)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: MemoryLayout<inotify_event>.alignment)
        defer { buffer.deallocate() }
        // -1 until the file exists; its creation in the directory adds the watch.
        var fileWatch = inotify_add_watch(fd, wal.path, UInt32(IN_MODIFY))
        /// Reads every pending event; true if one was a write to the log's write-ahead file or its creation.
        func drain() -> Bool {
            var relevant = false
            while true {
                let count = read(fd, buffer, bufferSize)
                guard count > 0 else { return relevant }
                var offset = 0
                while offset < count {
                    let event = (buffer + offset).assumingMemoryBound(to: inotify_event.self)
                    let nameLength = Int(event.pointee.len)
                    if event.pointee.wd == fileWatch, event.pointee.mask & UInt32(IN_MODIFY) != 0 {
                        relevant = true
                    } else if event.pointee.mask & UInt32(IN_Q_OVERFLOW) != 0 {
                        relevant = true  // events were lost: the log may have changed among them
                    } else if nameLength > 0,
                        String(cString: (buffer + offset + MemoryLayout<inotify_event>.size).assumingMemoryBound(to: CChar.self)) == wal.name
                    {
                        fileWatch = inotify_add_watch(fd, wal.path, UInt32(IN_MODIFY))
                        relevant = true
                    } else if event.pointee.mask & UInt32(IN_IGNORED) == 0 {
                        // IN_IGNORED: the deleted write-ahead file's watch went with it; not a wake-up for others.
                        ignored.add(1, ordering: .relaxed)
                    }
                    offset += MemoryLayout<inotify_event>.size + nameLength
                }
            }
        }
        /// Waits up to `milliseconds` for events; true if some arrived.
        func wait(_ milliseconds: Int32) -> Bool {
            var waiting = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            return poll(&waiting, 1, milliseconds) > 0
        }
        var followUp: Int?  // the next pause of `followUps` after a burst, nil when none is due
        while !stopped.load(ordering: .acquiring) {
            let pause = followUp.map { followUps[$0] } ?? 250  // idle: how soon `stop` is noticed
            if wait(pause) {
                if drain() {
                    seen.add(1, ordering: .relaxed)
                    changed()
                    usleep(2_000)  // a busy log's own writes: at most one check per 2 ms
                    followUp = 0
                }
            } else if let step = followUp {
                changed()
                followUp = step + 1 < followUps.count ? step + 1 : nil
            }
        }
    }
}
#else
/// Other systems: no watcher; the log's poll finds other processes' appends.
final class EmbeddedLogFileWatcher: Sendable {
    init?(logPath: String, changed: @escaping @Sendable () -> Void) { return nil }
    func stop() {}
}
#endif
