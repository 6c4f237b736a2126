import Foundation

/// The process-wide table of open log files: every `EmbeddedBus` on one file shares one
/// `EmbeddedLog`, so members of a group in this process see each other. The first opener's
/// configuration wins; the log closes when its last bus does.
final class EmbeddedLogRegistry: @unchecked Sendable {
    // @unchecked: `open` is only touched with `lock` held.
    static let shared = EmbeddedLogRegistry()
    private let lock = NSLock()
    private var open: [String: (log: EmbeddedLog, users: Int)] = [:]

    func acquire(path: String, configuration: EmbeddedBusConfiguration) throws(EmbeddedBusError) -> EmbeddedLog {
        lock.lock()
        defer { lock.unlock() }
        if let entry = open[path] {
            open[path] = (entry.log, entry.users + 1)
            return entry.log
        }
        let log = try EmbeddedLog(path: path, configuration: configuration)
        open[path] = (log, 1)
        Task { await log.startMaintenance() }
        return log
    }

    func release(_ log: EmbeddedLog) async {
        let last: Bool = {
            lock.lock()
            defer { lock.unlock() }
            guard let entry = open[log.path], entry.log === log else { return false }
            if entry.users <= 1 {
                open[log.path] = nil
                return true
            }
            open[log.path] = (entry.log, entry.users - 1)
            return false
        }()
        if last { await log.shutdown() }
    }
}
