import Foundation
import LockstepCore

/// One line of a task attempt's log as the store keeps it: the operators' `TaskLogLine` with its
/// stream as text, so the store needs nothing from the operator module.
public struct StoredLogLine: Sendable, Hashable, Codable {
    /// The line's place in its attempt's log, assigned by the writer, increasing in the order lines
    /// are appended. Readers use it as their cursor.
    public var seq: Int
    /// Kept to the millisecond.
    public var time: Date
    /// `stdout`, `stderr` or `operator`.
    public var stream: String
    public var text: String

    public init(seq: Int, time: Date, stream: String, text: String) {
        self.seq = seq
        self.time = time
        self.stream = stream
        self.text = text
    }
}

/// A page of an attempt's log, read with a cursor. To follow the log live, ask again with
/// `after: nextCursor` (at once while `hasMore`, after a pause otherwise) until `attemptEnded` and
/// not `hasMore`: then every line the attempt wrote has been read.
public struct LogPage: Sendable, Hashable {
    /// Oldest first.
    public var lines: [StoredLogLine]
    /// The last seq this page covers: pass it as `after:` to read on. nil when nothing was covered yet.
    /// With `grep` it can be past the last line returned: lines that did not match were read too.
    public var nextCursor: Int?
    /// More lines after `nextCursor` were already stored when this page was read.
    public var hasMore: Bool
    /// The attempt had ended (its result was recorded, or the engine stopped waiting for it) before
    /// the page's lines were read, so no line after them will come. A writer stores its last lines
    /// before the attempt's result.
    public var attemptEnded: Bool

    public init(lines: [StoredLogLine], nextCursor: Int?, hasMore: Bool, attemptEnded: Bool) {
        self.lines = lines
        self.nextCursor = nextCursor
        self.hasMore = hasMore
        self.attemptEnded = attemptEnded
    }
}

/// A try of a task that has log lines.
public struct LoggedTry: Sendable, Hashable {
    public var tryNumber: Int
    public var lines: Int
    public var firstTime: Date
    public var lastTime: Date
}

/// What `pruneLogs` removed.
public struct PrunedLogs: Sendable, Hashable {
    public var attempts: Int
    public var lines: Int

    public init(attempts: Int, lines: Int) {
        self.attempts = attempts
        self.lines = lines
    }
}

/// The task-log store: each attempt's lines in `lockstep_task_logs` (migration 2), written in batches
/// by whichever worker ran the attempt and read by anyone with a cursor.
extension StateStore {
    /// The most lines one read returns.
    public static let maxLogPage = 10_000
    /// Rows per INSERT on PostgreSQL: one round trip for a usual batch, far below the 65,535
    /// parameters a statement may carry.
    static let logRowsPerStatement = 1000
    /// Rows per INSERT on SQLite: 403 parameters, far below its limit (32,766).
    static let sqliteLogRowsPerStatement = 100

    private static let insertOneLogRow = insertLogRows(1)
    private static let insertSQLiteLogChunk = insertLogRows(sqliteLogRowsPerStatement)

    /// `INSERT … VALUES (…), (…)` for `rows` lines of one attempt ($1–$3 its key, four per line); a
    /// seq already stored is skipped.
    private static func insertLogRows(_ rows: Int) -> String {
        var values: [String] = []
        values.reserveCapacity(rows)
        for row in 0..<rows {
            let n = 3 + 4 * row
            values.append("($1, $2, $3, $\(n + 1), $\(n + 2), $\(n + 3), $\(n + 4))")
        }
        return "INSERT INTO lockstep_task_logs (run_id, task_id, try_number, seq, time_ms, stream, text) VALUES "
            + values.joined(separator: ", ") + " ON CONFLICT (run_id, task_id, try_number, seq) DO NOTHING"
    }

    /// Appends a batch of an attempt's lines in one transaction. A line whose seq is already stored
    /// is skipped, so a batch sent again (after a lost acknowledgement, or by a retrying writer)
    /// stores each line once.
    ///
    /// With `claimedBy`, the batch is stored only while that worker holds the attempt's claim, and
    /// false is returned otherwise: a worker that lost its claim to another (it could not renew it in
    /// time) must not write into the numbering the new holder continues. The claim row is locked for
    /// the transaction (PostgreSQL `FOR SHARE`; SQLite's write lock), so a take-over commits either
    /// before the check (and the batch is refused) or after the batch (and the new holder, which reads
    /// the newest seq after claiming, numbers its lines after it).
    @discardableResult
    public func appendLogLines(_ attempt: AttemptID, _ lines: [StoredLogLine], claimedBy writer: String? = nil) throws -> Bool {
        guard !lines.isEmpty else { return true }
        let key: [SQLValue] = [.text(attempt.runID), .text(attempt.taskID), .int(Int64(attempt.tryNumber))]
        // A batch is worth no fsync of its own: the attempt's result, committed durably after its last
        // lines, makes every batch before it durable too. Without this, each batch's fsync held the
        // store's one thread, and the other runs' steps with it, for as long as a chatty task printed.
        return try transactionWithoutSync {
            if let writer {
                let lock = db.dialect == .postgres ? " FOR SHARE" : ""
                let held = try db.query(
                    "SELECT 1 FROM lockstep_claims WHERE attempt_id = $1 AND worker = $2\(lock)", [.text(attempt.description), .text(writer)])
                if held.isEmpty { return false }
            }
            // Many rows per INSERT: one round trip per chunk on PostgreSQL; on SQLite one statement
            // step per chunk instead of per line (a line's own statement cost ~11 µs, most of the time
            // a chatty task's lines took). SQLite caches a prepared statement per SQL text, so its
            // chunks have one size and the lines left over go one by one.
            let perStatement = db.dialect == .sqlite ? Self.sqliteLogRowsPerStatement : Self.logRowsPerStatement
            var start = 0
            while start < lines.count {
                let size = min(perStatement, lines.count - start)
                let rows = db.dialect == .sqlite && size < perStatement ? 1 : size
                let chunk = lines[start..<start + rows]
                var parameters = key
                parameters.reserveCapacity(key.count + 4 * rows)
                for line in chunk { parameters += Self.values(line) }
                let sql = switch (db.dialect, rows) {
                case (.sqlite, 1): Self.insertOneLogRow
                case (.sqlite, _): Self.insertSQLiteLogChunk
                case (.postgres, _): Self.insertLogRows(rows)
                }
                try db.query(sql, parameters)
                start += rows
            }
            return true
        }
    }

    /// Lines after `cursor` (from the first without one), oldest first, at most `limit`
    /// (1…`maxLogPage`); with `grep`, only lines containing it (case-sensitive).
    public func logLines(_ attempt: AttemptID, after cursor: Int? = nil, limit: Int = 1000, grep: String? = nil) throws -> LogPage {
        let ended = try attemptEnded(attempt)
        let limit = Self.clampedLogLimit(limit)
        let grep = grep.flatMap { $0.isEmpty ? nil : $0 }
        // With grep, lines that do not match are passed over, and the cursor must move past them
        // too: bound the read by the newest line now, and say the page covers up to it.
        let bound = grep == nil ? nil : try newestLogSeq(attempt)
        if grep != nil && bound == nil { return LogPage(lines: [], nextCursor: cursor, hasMore: false, attemptEnded: ended) }
        var sql = "SELECT seq, time_ms, stream, text FROM lockstep_task_logs WHERE run_id = $1 AND task_id = $2 AND try_number = $3 AND seq > $4"
        var parameters = Self.key(attempt) + [.int(Int64(cursor ?? Int(Int64.min)))]
        if let bound {
            sql += " AND seq <= $\(parameters.count + 1)"
            parameters.append(.int(Int64(bound)))
        }
        if let grep {
            sql += " AND \(containsFunction)(text, $\(parameters.count + 1)) > 0"
            parameters.append(.text(grep))
        }
        sql += " ORDER BY seq LIMIT $\(parameters.count + 1)"
        parameters.append(.int(Int64(limit + 1)))
        var lines = try db.query(sql, parameters).map(Self.line)
        let hasMore = lines.count > limit
        if hasMore { lines.removeLast() }
        var next = lines.last?.seq ?? cursor
        if !hasMore, let bound { next = max(bound, cursor ?? bound) }
        return LogPage(lines: lines, nextCursor: next, hasMore: hasMore, attemptEnded: ended)
    }

    /// The newest `limit` lines (with `grep`, the newest that contain it), oldest first: "show the
    /// tail first". `nextCursor` is the newest stored line, so following goes on from there.
    public func tail(_ attempt: AttemptID, limit: Int, grep: String? = nil) throws -> LogPage {
        let ended = try attemptEnded(attempt)
        let limit = Self.clampedLogLimit(limit)
        let grep = grep.flatMap { $0.isEmpty ? nil : $0 }
        guard let newest = try newestLogSeq(attempt) else {
            return LogPage(lines: [], nextCursor: nil, hasMore: false, attemptEnded: ended)
        }
        var sql = "SELECT seq, time_ms, stream, text FROM lockstep_task_logs WHERE run_id = $1 AND task_id = $2 AND try_number = $3 AND seq <= $4"
        var parameters = Self.key(attempt) + [.int(Int64(newest))]
        if let grep {
            sql += " AND \(containsFunction)(text, $\(parameters.count + 1)) > 0"
            parameters.append(.text(grep))
        }
        sql += " ORDER BY seq DESC LIMIT $\(parameters.count + 1)"
        parameters.append(.int(Int64(limit)))
        let lines = try db.query(sql, parameters).map(Self.line).reversed()
        return LogPage(lines: Array(lines), nextCursor: newest, hasMore: false, attemptEnded: ended)
    }

    /// The tries of a task that have log lines, oldest first.
    public func logTries(runID: RunID, taskID: String) throws -> [LoggedTry] {
        try db.query(
            "SELECT try_number, count(*), min(time_ms), max(time_ms) FROM lockstep_task_logs WHERE run_id = $1 AND task_id = $2 GROUP BY try_number ORDER BY try_number",
            .text(runID), .text(taskID)
        ).map {
            LoggedTry(tryNumber: Int($0[0] ?? "") ?? 0, lines: Int($0[1] ?? "") ?? 0,
                      firstTime: Self.date($0[2]), lastTime: Self.date($0[3]))
        }
    }

    /// Deletes the logs of every attempt whose newest line is older than `cutoff`. Whole attempts
    /// only: a log that still grows never loses its beginning. One transaction per 100 attempts, so
    /// a large prune never holds up the workers' appends for long.
    public func pruneLogs(olderThan cutoff: Date) throws -> PrunedLogs {
        let cutoffMs = Int64((cutoff.timeIntervalSince1970 * 1000).rounded())
        let candidates = try db.query(
            "SELECT DISTINCT run_id, task_id, try_number FROM lockstep_task_logs WHERE time_ms < $1", .int(cutoffMs)
        ).map { [SQLValue.text($0[0] ?? ""), .text($0[1] ?? ""), .int(Int64($0[2] ?? "") ?? 0)] }
        var pruned = PrunedLogs(attempts: 0, lines: 0)
        var start = 0
        while start < candidates.count {
            let chunk = candidates[start..<min(start + 100, candidates.count)]
            let counts = try db.transaction { try chunk.map { try deleteLog($0, ifNothingSince: cutoffMs) } }
            pruned.attempts += counts.filter { $0 > 0 }.count
            pruned.lines += counts.reduce(0, +)
            start += chunk.count
        }
        return pruned
    }

    /// Deletes one attempt's lines unless one of them is as new as `cutoffMs`; returns how many.
    private func deleteLog(_ key: [SQLValue], ifNothingSince cutoffMs: Int64) throws -> Int {
        let delete = """
            DELETE FROM lockstep_task_logs WHERE run_id = $1 AND task_id = $2 AND try_number = $3 AND NOT EXISTS (
              SELECT 1 FROM lockstep_task_logs n WHERE n.run_id = $1 AND n.task_id = $2 AND n.try_number = $3 AND n.time_ms >= $4)
            """
        let parameters = key + [.int(cutoffMs)]
        switch db.dialect {
        case .sqlite:
            try db.query(delete, parameters)
            return Int(try db.query("SELECT changes()", []).first?.first.flatMap { $0 } ?? "") ?? 0
        case .postgres:
            let rows = try db.query("WITH deleted AS (\(delete) RETURNING 1) SELECT count(*) FROM deleted", parameters)
            return Int(rows.first?.first.flatMap { $0 } ?? "") ?? 0
        }
    }

    /// True once no more lines will come: the attempt's result is recorded, or its run ended, or its
    /// task went on to a later try or ended (a timed-out attempt's worker may never record a result).
    /// An unknown run is not ended: the coordinator may not have committed it yet.
    private func attemptEnded(_ attempt: AttemptID) throws -> Bool {
        if try attemptResult(attempt) != nil { return true }
        guard let run = try run(attempt.runID) else { return false }
        if run.state.isTerminal { return true }
        guard let task = run.tasks[attempt.taskID] else { return false }
        return task.tryNumber > attempt.tryNumber
            || (task.tryNumber == attempt.tryNumber && (task.state.isTerminal || task.state == .upForRetry))
    }

    /// The seq of the attempt's newest stored line; nil when it has none. A worker that takes an
    /// attempt over numbers its lines after it.
    public func newestLogSeq(_ attempt: AttemptID) throws -> Int? {
        try db.query(
            "SELECT max(seq) FROM lockstep_task_logs WHERE run_id = $1 AND task_id = $2 AND try_number = $3", Self.key(attempt)
        ).first?.first.flatMap { $0 }.flatMap { Int($0) }
    }

    /// Substring search without LIKE's wildcards, so `%` and `_` in a grep mean themselves.
    private var containsFunction: String { db.dialect == .sqlite ? "instr" : "strpos" }

    private static func clampedLogLimit(_ limit: Int) -> Int { min(max(limit, 1), maxLogPage) }

    private static func key(_ attempt: AttemptID) -> [SQLValue] {
        [.text(attempt.runID), .text(attempt.taskID), .int(Int64(attempt.tryNumber))]
    }

    private static func values(_ line: StoredLogLine) -> [SQLValue] {
        [.int(Int64(line.seq)), .int(Int64((line.time.timeIntervalSince1970 * 1000).rounded())), .text(line.stream), .text(line.text)]
    }

    private static func line(_ row: [String?]) -> StoredLogLine {
        StoredLogLine(seq: Int(row[0] ?? "") ?? 0, time: date(row[1]), stream: row[2] ?? "", text: row[3] ?? "")
    }

    private static func date(_ ms: String?) -> Date {
        Date(timeIntervalSince1970: Double(Int64(ms ?? "") ?? 0) / 1000)
    }
}
