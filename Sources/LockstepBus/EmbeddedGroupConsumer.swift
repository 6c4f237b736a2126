import Foundation

/// A member of a consumer group on the embedded log, reading through a connection of its own.
///
/// Reads run on the cooperative pool and block it briefly: each is one indexed range scan of at
/// most `fetchBatchSize` rows in WAL mode, which never waits for the writer, so it is bounded by
/// the page cache, not by the disk's fsync. Commits go to the writer thread (`EmbeddedLog`).
actor EmbeddedGroupConsumer: GroupConsumer {
    let group: String
    let topics: [String]
    private let log: EmbeddedLog
    private let memberID: UInt64
    private let mailbox: EmbeddedMemberMailbox
    private let doorbell: EmbeddedDoorbell
    private let store: EmbeddedLogStore
    private let batchSize: Int
    private let onClose: @Sendable (EmbeddedGroupConsumer) -> Void

    private var held: [TopicPartition] = []
    /// The next offset to fetch on each held partition; records fetched but not yet returned sit in `buffer`.
    private var positions: [TopicPartition: Int64] = [:]
    private var buffer: [BusRecord] = []
    private var cursor = 0
    private var rotation = 0
    private var standingSeek: SeekTarget?
    private var offsetSeeks: [Int32: Int64] = [:]
    /// Partitions a seek already positioned; a partition gained later starts from the seek only once.
    private var seeked: Set<TopicPartition> = []
    private var closed = false

    static func join(log: EmbeddedLog, group: String, topics: [String],
                     onClose: @escaping @Sendable (EmbeddedGroupConsumer) -> Void) async throws -> EmbeddedGroupConsumer {
        let store = try EmbeddedLogStore(path: log.path, createSchema: false)
        let mailbox = EmbeddedMemberMailbox()
        let doorbell = EmbeddedDoorbell()
        let id = try await log.join(group: group, topics: topics, mailbox: mailbox, doorbell: doorbell)
        return EmbeddedGroupConsumer(log: log, group: group, topics: topics, memberID: id, mailbox: mailbox,
                                     doorbell: doorbell, store: store, onClose: onClose)
    }

    private init(log: EmbeddedLog, group: String, topics: [String], memberID: UInt64, mailbox: EmbeddedMemberMailbox,
                 doorbell: EmbeddedDoorbell, store: EmbeddedLogStore,
                 onClose: @escaping @Sendable (EmbeddedGroupConsumer) -> Void) {
        self.log = log
        self.group = group
        self.topics = topics
        self.memberID = memberID
        self.mailbox = mailbox
        self.doorbell = doorbell
        self.store = store
        self.batchSize = max(1, log.configuration.fetchBatchSize)
        self.onClose = onClose
    }

    func next() async throws -> BusRecord? {
        while true {
            if closed { return nil }
            try Task.checkCancellation()
            if let update = mailbox.take() { try apply(update) }
            if cursor < buffer.count {
                cursor += 1
                return buffer[cursor - 1]
            }
            try fill()
            if cursor < buffer.count { continue }
            await doorbell.wait()
        }
    }

    func nextBatch(max: Int) async throws -> [BusRecord] {
        guard let first = try await next() else { return [] }
        var batch = [first]
        while batch.count < max && !closed {
            // A rebalance ends the batch: what follows may belong to partitions this member lost.
            if let update = mailbox.take() {
                try apply(update)
                break
            }
            if cursor < buffer.count {
                batch.append(buffer[cursor])
                cursor += 1
                continue
            }
            try fill()
            if cursor >= buffer.count { break }
        }
        return batch
    }

    func commit(_ position: RecordPosition) async throws {
        guard topics.contains(position.topic) else { throw EmbeddedBusError.notSubscribed(group: group, topic: position.topic) }
        try await log.commit(memberID: memberID, position: position)
    }

    func seek(_ target: SeekTarget) async throws {
        if let update = mailbox.take() { try apply(update) }
        let affected: [TopicPartition]
        switch target {
        case .offset(let partition, let offset):
            offsetSeeks[partition] = offset
            affected = held.filter { $0.partition == partition }
        case .beginning, .end, .timestamp:
            standingSeek = target
            offsetSeeks = [:]
            seeked = []
            affected = held
        }
        for tp in affected {
            positions[tp] = try seekOffset(tp) ?? positions[tp]
            seeked.insert(tp)
        }
        dropBuffered { affected.contains($0) }
        doorbell.ring()
    }

    func close() async {
        guard !closed else { return }
        closed = true
        doorbell.ring()
        await log.leave(memberID: memberID)
        store.close()
        onClose(self)
    }

    private func apply(_ update: EmbeddedAssignmentUpdate) throws {
        for tp in positions.keys where !update.partitions.contains(tp) { positions[tp] = nil }
        for (tp, committed) in update.fresh {
            if !seeked.contains(tp), let offset = try seekOffset(tp) {
                seeked.insert(tp)
                positions[tp] = offset
            } else {
                // No committed offset: start at the earliest record still kept (a scan from 0 finds it).
                positions[tp] = committed ?? 0
            }
        }
        held = update.partitions.sorted()
        dropBuffered { !update.partitions.contains($0) || update.fresh.keys.contains($0) }
    }

    private func seekOffset(_ tp: TopicPartition) throws -> Int64? {
        if let offset = offsetSeeks[tp.partition] { return offset }
        switch standingSeek {
        case .beginning: return 0
        case .end: return try store.nextOffset(tp.topic, tp.partition)
        case .timestamp(let time): return try store.offset(tp.topic, tp.partition, atOrAfter: time)
        case .offset, nil: return nil
        }
    }

    private func dropBuffered(_ shouldDrop: (TopicPartition) -> Bool) {
        buffer = buffer[cursor...].filter { !shouldDrop(TopicPartition(topic: $0.topic, partition: $0.position.partition)) }
        cursor = 0
    }

    /// Fetches up to `batchSize` records, starting at a different partition each time so a busy one
    /// cannot starve the rest.
    private func fill() throws {
        buffer.removeAll(keepingCapacity: true)
        cursor = 0
        guard !held.isEmpty else { return }
        var budget = batchSize
        rotation = (rotation + 1) % held.count
        for i in 0..<held.count where budget > 0 {
            let tp = held[(rotation + i) % held.count]
            guard let position = positions[tp] else { continue }
            let records = try store.fetch(tp.topic, tp.partition, from: position, limit: budget)
            guard let last = records.last else { continue }
            positions[tp] = last.position.offset + 1
            buffer.append(contentsOf: records)
            budget -= records.count
        }
    }
}
