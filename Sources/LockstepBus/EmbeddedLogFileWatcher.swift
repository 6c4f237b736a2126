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
final class EmbeddedLogFileWatcher: Sendable {
    private let stopped = Atomic<Bool>(false)

    /// Watches the directory of the log's file for writes to `<file>-wal`; nil where inotify is not
    /// available (the poll alone then finds other processes' appends).
    init?(logPath: String, changed: @escaping @Sendable () -> Void) {
        let url = URL(fileURLWithPath: logPath)
        let walName = url.lastPathComponent + "-wal"
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        // The directory, not the file: SQLite may delete and create the write-ahead file again.
        guard inotify_add_watch(fd, url.deletingLastPathComponent().path, UInt32(IN_MODIFY | IN_CREATE)) >= 0 else {
            close(fd)
            return nil
        }
        let thread = Thread { [self] in
            Self.watch(fd, walName: walName, stopped: stopped, changed: changed)
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

    private static func watch(_ fd: Int32, walName: String, stopped: borrowing Atomic<Bool>, changed: @Sendable () -> Void) {
        let bufferSize = 16 * (MemoryLayout<inotify_event>.size + Int(NAME_MAX) + 1)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: MemoryLayout<inotify_event>.alignment)
        defer { buffer.deallocate() }
        /// Reads every pending event; true if one was a write to the log's write-ahead file.
        func drain() -> Bool {
            var relevant = false
            while true {
                let count = read(fd, buffer, bufferSize)
                guard count > 0 else { return relevant }
                var offset = 0
                while offset < count {
                    let event = (buffer + offset).assumingMemoryBound(to: inotify_event.self)
                    let nameLength = Int(event.pointee.len)
                    if nameLength > 0 {
                        let name = String(cString: (buffer + offset + MemoryLayout<inotify_event>.size).assumingMemoryBound(to: CChar.self))
                        if name == walName { relevant = true }
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
