import Foundation
@testable import LockstepBus
import LockstepTestSupport
import Testing

#if os(Linux)
/// The watcher wakes for the log's write-ahead file, including after SQLite deletes and creates it
/// again, and not for the other files `lockstep standalone` writes in the same directory (its
/// state store, task logs): real files, real inotify.
@Suite struct EmbeddedLogFileWatcherTests {
    static func append(_ bytes: String, to path: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bytes.utf8))
    }

    /// Created in place, as SQLite creates it (`FileManager.createFile` writes a temporary file and
    /// renames it, a creation of another name first).
    static func create(_ path: String) -> Bool {
        let fd = open(path, O_CREAT | O_WRONLY, 0o644)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }

    @Test func itWakesForTheLogsWriteAheadFileEvenWhenMadeAgainAndNeverForItsNeighbours() async throws {
        let dir = try TestPaths.temporaryDirectory("lockstep-watch")
        let neighbour = dir.appendingPathComponent("state.sqlite-wal").path
        let wal = dir.appendingPathComponent("events.sqlite-wal").path
        #expect(Self.create(neighbour))
        let watcher = try #require(EmbeddedLogFileWatcher(logPath: dir.appendingPathComponent("events.sqlite").path) {})
        defer { watcher.stop() }

        // The write-ahead file does not exist yet: its creation wakes the watcher.
        #expect(Self.create(wal))
        try await eventually("the file's creation to be seen") { watcher.walWakeUps >= 1 }
        // The neighbour's writes queue nothing; the log's next write is seen.
        for round in 0..<200 { try Self.append("page \(round)\n", to: neighbour) }
        var before = watcher.walWakeUps
        try Self.append("commit\n", to: wal)
        try await eventually("the log's write to be seen") { [before] in watcher.walWakeUps > before }
        #expect(watcher.ignoredEvents == 0)

        // Deleted and made again, as SQLite does when its last connection closes: still watched.
        try FileManager.default.removeItem(atPath: wal)
        before = watcher.walWakeUps
        #expect(Self.create(wal))
        try await eventually("the new file's creation to be seen") { [before] in watcher.walWakeUps > before }
        for round in 0..<50 { try Self.append("page \(round)\n", to: neighbour) }
        before = watcher.walWakeUps
        try Self.append("commit\n", to: wal)
        try await eventually("a write to the new file to be seen") { [before] in watcher.walWakeUps > before }
        #expect(watcher.ignoredEvents == 0)
    }
}
#endif
