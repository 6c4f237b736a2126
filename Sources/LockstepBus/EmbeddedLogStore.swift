import Foundation
import LockstepDrivers

/// The log's tables and every query on them, over one connection. Times are stored as microseconds
/// since 1970. `partitions.next_offset` is the high watermark: it outlives retention's deletes, so
/// offsets are never reused.
final class EmbeddedLogStore {
    let connection: SQLiteConnection
    var path: String { connection.path }

    /// Opens a connection; `createSchema` is for the writer, which opens the file first.
    init(path: String, createSchema: Bool = true) throws(EmbeddedBusError) {
        do {
            connection = try SQLiteConnection(path: path)
            try connection.execute("PRAGMA cache_size=-\(Self.pageCacheKiB)")
        } catch { throw .sqlite(error) }
        guard createSchema else { return }
        do {
            try connection.useWriteAheadLog()
            try connection.execute("""
            CREATE TABLE IF NOT EXISTS topics(
                name TEXT PRIMARY KEY, partitions INTEGER NOT NULL, created_us INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS partitions(
                topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
                PRIMARY KEY(topic, partition)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS records(
                topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
                key TEXT, value BLOB NOT NULL, headers BLOB NOT NULL, time_us INTEGER NOT NULL,
                PRIMARY KEY(topic, partition, offset)) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS records_by_time ON records(topic, partition, time_us);
            CREATE TABLE IF NOT EXISTS group_offsets(
                group_id TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
                PRIMARY KEY(group_id, topic, partition)) WITHOUT ROWID;
            """)
        } catch { throw .sqlite(error) }
    }

    /// Each connection's page cache, in KiB. A reader (one per group consumer and topic reader: eight
    /// in a standalone) reads the log's tail in order, pages the writer just wrote and the OS still
    /// caches, and its cache is emptied whenever another connection commits; the writer appends at
    /// the right edge of the records table and its time index and updates a few offset rows. SQLite's
    /// default 2 MB each filled with pages none of them read again, and stayed: the process grew with
    /// the log.
    static let pageCacheKiB = 256

    func close() { connection.close() }

    /// SQLite's failures, as the bus reports them.
    private func sql<T>(_ body: () throws(SQLiteError) -> T) throws(EmbeddedBusError) -> T {
        do { return try body() } catch { throw .sqlite(error) }
    }

    static func micros(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) }
    static func date(micros: Int64) -> Date { Date(timeIntervalSince1970: Double(micros) / 1_000_000) }

    // MARK: Topics

    func partitionCount(_ topic: String) throws(EmbeddedBusError) -> Int? {
        try sql { () throws(SQLiteError) in
            try connection.statement("SELECT partitions FROM topics WHERE name = ?").bind(1, topic)
                .firstRow { Int($0.int64(0)) }
        }
    }

    /// Inserts the topic unless it exists; returns its partition count either way. Call inside a transaction.
    func insertTopic(_ topic: String, partitions: Int) throws(EmbeddedBusError) -> Int {
        guard partitions >= 1 else { throw .invalidPartitionCount(topic: topic, partitions: partitions) }
        if let existing = try partitionCount(topic) { return existing }
        return try sql { () throws(SQLiteError) in
            try connection.statement("INSERT INTO topics(name, partitions, created_us) VALUES(?, ?, ?)")
                .bind(1, topic).bind(2, Int64(partitions)).bind(3, Self.micros(Date())).run()
            for partition in 0..<partitions {
                try connection.statement("INSERT INTO partitions(topic, partition, next_offset) VALUES(?, ?, 0)")
                    .bind(1, topic).bind(2, Int64(partition)).run()
            }
            return partitions
        }
    }

    func topics() throws(EmbeddedBusError) -> [TopicInfo] {
        try sql { () throws(SQLiteError) in
            let s = try connection.statement("SELECT name, partitions FROM topics ORDER BY name")
            var result: [TopicInfo] = []
            while try s.step() { result.append(TopicInfo(name: s.text(0) ?? "", partitions: Int(s.int64(1)))) }
            return result
        }
    }

    // MARK: Appending

    func nextOffset(_ topic: String, _ partition: Int32) throws(EmbeddedBusError) -> Int64 {
        try sql { () throws(SQLiteError) in try highWatermark(topic, partition) }
    }

    private func highWatermark(_ topic: String, _ partition: Int32) throws(SQLiteError) -> Int64 {
        try connection.statement("SELECT next_offset FROM partitions WHERE topic = ? AND partition = ?")
            .bind(1, topic).bind(2, Int64(partition)).firstRow { $0.int64(0) } ?? 0
    }

    func setNextOffset(_ topic: String, _ partition: Int32, _ offset: Int64) throws(EmbeddedBusError) {
        try sql { () throws(SQLiteError) in
            try connection.statement("UPDATE partitions SET next_offset = ? WHERE topic = ? AND partition = ?")
                .bind(1, offset).bind(2, topic).bind(3, Int64(partition)).run()
        }
    }

    func insert(_ record: OutgoingRecord, partition: Int32, offset: Int64, timeMicros: Int64) throws(EmbeddedBusError) {
        try sql { () throws(SQLiteError) in
            try connection.statement("""
                INSERT INTO records(topic, partition, offset, key, value, headers, time_us) VALUES(?, ?, ?, ?, ?, ?, ?)
                """)
                .bind(1, record.topic).bind(2, Int64(partition)).bind(3, offset).bind(4, record.key)
                .bind(5, bytes: record.value).bind(6, bytes: EmbeddedHeaderCoding.encode(record.headers))
                .bind(7, timeMicros).run()
        }
    }

    // MARK: Reading

    /// Up to `limit` records of one partition from `offset` on, in offset order.
    func fetch(_ topic: String, _ partition: Int32, from offset: Int64, limit: Int) throws(EmbeddedBusError) -> [BusRecord] {
        try sql { () throws(SQLiteError) in
            let s = try connection.statement("""
                SELECT offset, key, value, headers, time_us FROM records
                WHERE topic = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?
                """).bind(1, topic).bind(2, Int64(partition)).bind(3, offset).bind(4, Int64(limit))
            var records: [BusRecord] = []
            while try s.step() {
                records.append(BusRecord(
                    position: RecordPosition(topic: topic, partition: partition, offset: s.int64(0)),
                    key: s.isNull(1) ? nil : s.text(1), value: s.bytes(2),
                    headers: EmbeddedHeaderCoding.decode(s.bytes(3)), timestamp: Self.date(micros: s.int64(4))))
            }
            return records
        }
    }

    /// The first offset whose record time is at or after `time`, or the high watermark if none is.
    func offset(_ topic: String, _ partition: Int32, atOrAfter time: Date) throws(EmbeddedBusError) -> Int64 {
        try sql { () throws(SQLiteError) in
            let first = try connection.statement("""
                SELECT MIN(offset) FROM records WHERE topic = ? AND partition = ? AND time_us >= ?
                """).bind(1, topic).bind(2, Int64(partition)).bind(3, Self.micros(time))
                .firstRow { $0.isNull(0) ? nil : $0.int64(0) }
            if let first, let first { return first }
            return try highWatermark(topic, partition)
        }
    }

    // MARK: Consumer groups

    func committedOffsets(group: String, topic: String) throws(EmbeddedBusError) -> [Int32: Int64] {
        try sql { () throws(SQLiteError) in
            let s = try connection.statement("SELECT partition, offset FROM group_offsets WHERE group_id = ? AND topic = ?")
                .bind(1, group).bind(2, topic)
            var result: [Int32: Int64] = [:]
            while try s.step() { result[Int32(s.int64(0))] = s.int64(1) }
            return result
        }
    }

    /// Stores `next` as the offset the group reads next on the partition (Kafka's convention).
    func commit(group: String, topic: String, partition: Int32, next: Int64) throws(EmbeddedBusError) {
        try sql { () throws(SQLiteError) in
            try connection.statement("""
                INSERT INTO group_offsets(group_id, topic, partition, offset) VALUES(?, ?, ?, ?)
                ON CONFLICT(group_id, topic, partition) DO UPDATE SET offset = excluded.offset
                """).bind(1, group).bind(2, topic).bind(3, Int64(partition)).bind(4, next).run()
        }
    }

    // MARK: Retention

    /// Deletes what `policy` no longer keeps on `topic`; returns how many records went.
    func applyRetention(_ policy: EmbeddedRetentionPolicy, topic: String, partitions: Int, now: Date) throws(EmbeddedBusError) -> Int {
        try sql { () throws(SQLiteError) in
            var deleted = 0
            if let maxAge = policy.maxAge {
                let cutoff = Self.micros(now) - maxAge.microseconds
                try connection.statement("DELETE FROM records WHERE topic = ? AND time_us < ?").bind(1, topic).bind(2, cutoff).run()
                deleted += changes
            }
            if let maxCount = policy.maxRecordsPerPartition {
                for partition in 0..<Int32(partitions) {
                    let keepFrom = try highWatermark(topic, partition) - Int64(max(0, maxCount))
                    try connection.statement("DELETE FROM records WHERE topic = ? AND partition = ? AND offset < ?")
                        .bind(1, topic).bind(2, Int64(partition)).bind(3, keepFrom).run()
                    deleted += changes
                }
            }
            return deleted
        }
    }

    private var changes: Int { connection.changes }

    /// Changes whenever another connection (this process or another) commits to the file.
    func dataVersion() throws(EmbeddedBusError) -> Int64 {
        try sql { () throws(SQLiteError) in
            try connection.statement("PRAGMA data_version").firstRow { $0.int64(0) } ?? 0
        }
    }
}

extension Duration {
    var microseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }
}
