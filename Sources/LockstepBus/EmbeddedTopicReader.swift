import Foundation

/// A bounded read of one topic on the embedded log, through a connection of its own. Partitions are
/// merged by record time so a replay sees the topic roughly in the order it was written.
actor EmbeddedTopicReader: TopicReader {
    private struct Cursor {
        var partition: Int32
        var next: Int64
        /// Offsets at or past this are not read: the high watermark when the reader opened, or the `ReadEnd`.
        var end: Int64
        var pending: [BusRecord] = []
        var pendingIndex = 0
    }

    private let store: EmbeddedLogStore
    private let topic: String
    private let batchSize: Int
    private var cursors: [Cursor]
    private let notBefore: Date?
    private let notAfter: Date?
    private var closed = false

    init(path: String, topic: String, partitions: Int, from start: SeekTarget, to end: ReadEnd, batchSize: Int) throws {
        let store = try EmbeddedLogStore(path: path, createSchema: false)
        var cursors: [Cursor] = []
        for partition in 0..<Int32(partitions) {
            let highWatermark = try store.nextOffset(topic, partition)
            var first: Int64 = 0
            switch start {
            case .beginning: first = 0
            case .end: first = highWatermark
            case .offset(let p, let offset): first = p == partition ? offset : 0
            case .timestamp(let time): first = try store.offset(topic, partition, atOrAfter: time)
            }
            var last = highWatermark
            if case .offset(let p, let offset) = end, p == partition { last = min(last, offset) }
            cursors.append(Cursor(partition: partition, next: first, end: last))
        }
        if case .timestamp(let time) = start { notBefore = time } else { notBefore = nil }
        if case .timestamp(let time) = end { notAfter = time } else { notAfter = nil }
        self.store = store
        self.topic = topic
        self.batchSize = max(1, batchSize)
        self.cursors = cursors
    }

    func next() async throws -> BusRecord? {
        while !closed {
            var best: Int?
            for i in cursors.indices {
                try refill(i)
                guard cursors[i].pendingIndex < cursors[i].pending.count else { continue }
                if let b = best {
                    let candidate = cursors[i].pending[cursors[i].pendingIndex]
                    let current = cursors[b].pending[cursors[b].pendingIndex]
                    if candidate.timestamp < current.timestamp { best = i }
                } else {
                    best = i
                }
            }
            guard let b = best else { return nil }
            let record = cursors[b].pending[cursors[b].pendingIndex]
            cursors[b].pendingIndex += 1
            if let notBefore, record.timestamp < notBefore { continue }
            if let notAfter, record.timestamp > notAfter { continue }
            return record
        }
        return nil
    }

    func close() async {
        closed = true
        store.close()
    }

    private func refill(_ i: Int) throws {
        guard cursors[i].pendingIndex >= cursors[i].pending.count, cursors[i].next < cursors[i].end else { return }
        let want = Int(min(Int64(batchSize), cursors[i].end - cursors[i].next))
        let records = try store.fetch(topic, cursors[i].partition, from: cursors[i].next, limit: want)
            .filter { $0.position.offset < cursors[i].end }
        cursors[i].pending = records
        cursors[i].pendingIndex = 0
        // Nothing left below the end (retention may have removed it): this partition is done.
        cursors[i].next = records.last.map { $0.position.offset + 1 } ?? cursors[i].end
    }
}
