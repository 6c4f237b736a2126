import Foundation
import LockstepDrivers
import Logging

/// The one writer of a log file in this process, and its group coordinator. Shared by every
/// `EmbeddedBus` opened on the same file here (see `EmbeddedLogRegistry`), so their members form
/// one group; processes on the same file share the records and committed offsets, not group membership.
///
/// Runs on a thread of its own (`DedicatedThreadExecutor`): publishes and commits block in fsync.
/// Assignment, commit and the committed-offset read for a new owner all happen here, serially, so a
/// commit from a member that just lost a partition is either seen by the new owner or refused.
actor EmbeddedLog {
    private nonisolated let executor: DedicatedThreadExecutor
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    nonisolated let path: String
    nonisolated let configuration: EmbeddedBusConfiguration
    private let store: EmbeddedLogStore
    private let logger: Logger
    private var isClosed = false

    private var partitionCounts: [String: Int] = [:]
    private var roundRobin: [String: Int] = [:]

    private struct Member {
        var group: String
        var topics: [String]
        var mailbox: EmbeddedMemberMailbox
        var doorbell: EmbeddedDoorbell
        var held: Set<TopicPartition> = []
    }
    private var members: [UInt64: Member] = [:]
    private var generations: [String: Int] = [:]
    private var nextMemberID: UInt64 = 1

    private var maintenance: Task<Void, Never>?
    private var watcher: EmbeddedLogFileWatcher?
    private var lastDataVersion: Int64 = 0
    private var lastRetention = ContinuousClock.now

    init(path: String, configuration: EmbeddedBusConfiguration) throws(EmbeddedBusError) {
        self.path = path
        self.configuration = configuration
        executor = DedicatedThreadExecutor(name: "lockstep-log")
        store = try EmbeddedLogStore(path: path)
        logger = Logger(label: "lockstep.bus.embedded")
    }

    deinit {
        // A log dropped without `shutdown` (its last bus never closed) leaves no watcher thread behind.
        watcher?.stop()
    }

    // MARK: Topics

    func createTopic(_ name: String, partitions: Int) throws(EmbeddedBusError) {
        try checkOpen()
        let count = try store.connection.writeTransaction(mapError: EmbeddedBusError.sqlite) { () throws(EmbeddedBusError) in
            try store.insertTopic(name, partitions: partitions)
        }
        partitionCounts[name] = count
    }

    func listTopics() throws(EmbeddedBusError) -> [TopicInfo] {
        try checkOpen()
        return try store.topics()
    }

    /// The topic's partition count, creating it with the default count if it is missing.
    private func ensureTopic(_ name: String) throws(EmbeddedBusError) -> Int {
        // Partition counts never change once a topic exists, so the cache stays true across processes.
        if let count = partitionCounts[name] { return count }
        if let count = try store.partitionCount(name) {
            partitionCounts[name] = count
            return count
        }
        try createTopic(name, partitions: configuration.defaultPartitions)
        return partitionCounts[name] ?? configuration.defaultPartitions
    }

    // MARK: Publishing

    func publish(_ records: [OutgoingRecord]) throws(EmbeddedBusError) -> [RecordPosition] {
        try checkOpen()
        guard !records.isEmpty else { return [] }
        for topic in Set(records.map(\.topic)) where partitionCounts[topic] == nil { _ = try ensureTopic(topic) }
        let now = EmbeddedLogStore.micros(Date())
        var roundRobin = self.roundRobin
        let positions = try store.connection.writeTransaction(mapError: EmbeddedBusError.sqlite) { () throws(EmbeddedBusError) -> [RecordPosition] in
            // Read inside the write lock: another process may have appended since our last publish.
            var next: [TopicPartition: Int64] = [:]
            var positions: [RecordPosition] = []
            positions.reserveCapacity(records.count)
            for record in records {
                let count = partitionCounts[record.topic] ?? 1
                let partition: Int32
                if let key = record.key {
                    partition = EmbeddedPartitioner.partition(forKey: key, partitions: count)
                } else {
                    let turn = roundRobin[record.topic, default: 0]
                    roundRobin[record.topic] = turn &+ 1
                    partition = Int32(turn % count)
                }
                let tp = TopicPartition(topic: record.topic, partition: partition)
                let offset: Int64
                if let known = next[tp] { offset = known } else { offset = try store.nextOffset(record.topic, partition) }
                let time = record.timestamp.map(EmbeddedLogStore.micros) ?? now
                try store.insert(record, partition: partition, offset: offset, timeMicros: time)
                next[tp] = offset + 1
                positions.append(RecordPosition(topic: record.topic, partition: partition, offset: offset))
            }
            for (tp, offset) in next { try store.setNextOffset(tp.topic, tp.partition, offset) }
            return positions
        }
        self.roundRobin = roundRobin
        // Durable now; wake this process's consumers holding these partitions without waiting for a
        // poll. Only those: the other members of a group (a worker's other slots) have nothing to read,
        // and each needless wake is a thread hand-off. A partition changing hands meanwhile rings its
        // new holder through the assignment (`rebalance`).
        let written = Set(positions.map { TopicPartition(topic: $0.topic, partition: $0.partition) })
        for member in members.values where !member.held.isDisjoint(with: written) { member.doorbell.ring() }
        return positions
    }

    // MARK: Consumer groups

    func join(group: String, topics: [String], mailbox: EmbeddedMemberMailbox, doorbell: EmbeddedDoorbell) throws(EmbeddedBusError) -> UInt64 {
        try checkOpen()
        for topic in topics { _ = try ensureTopic(topic) }
        let id = nextMemberID
        nextMemberID += 1
        members[id] = Member(group: group, topics: topics, mailbox: mailbox, doorbell: doorbell)
        try rebalance(group)
        startMaintenance()
        return id
    }

    func leave(memberID: UInt64) {
        guard let member = members.removeValue(forKey: memberID) else { return }
        if isClosed { return }
        do {
            try rebalance(member.group)
        } catch {
            logger.error("rebalance after a member left failed", metadata: ["group": "\(member.group)", "error": "\(error)"])
        }
    }

    private func rebalance(_ group: String) throws(EmbeddedBusError) {
        let ids = members.filter { $0.value.group == group }.keys.sorted()
        let assignment = EmbeddedGroupAssignment.assign(
            ids.map { EmbeddedGroupAssignment.Member(id: $0, topics: members[$0]!.topics) },
            partitions: partitionCounts)
        let generation = generations[group, default: 0] + 1
        generations[group] = generation
        var committed: [String: [Int32: Int64]] = [:]
        for id in ids {
            guard var member = members[id] else { continue }
            let now = assignment[id] ?? []
            guard now != member.held else { continue }
            var fresh: [TopicPartition: Int64?] = [:]
            for tp in now.subtracting(member.held) {
                if committed[tp.topic] == nil { committed[tp.topic] = try store.committedOffsets(group: group, topic: tp.topic) }
                fresh[tp] = committed[tp.topic]?[tp.partition]
            }
            member.held = now
            members[id] = member
            member.mailbox.post(EmbeddedAssignmentUpdate(generation: generation, partitions: now, fresh: fresh))
            member.doorbell.ring()
        }
    }

    func commit(memberID: UInt64, position: RecordPosition) throws(EmbeddedBusError) {
        try checkOpen()
        guard let member = members[memberID] else { throw .closed(path: path) }
        guard member.held.contains(TopicPartition(topic: position.topic, partition: position.partition)) else {
            throw .commitRejected(group: member.group, position: position)
        }
        try store.connection.writeTransaction(mapError: EmbeddedBusError.sqlite) { () throws(EmbeddedBusError) in
            try store.commit(group: member.group, topic: position.topic, partition: position.partition,
                             next: position.offset + 1)
        }
    }

    func committedOffsets(group: String, topic: String) throws(EmbeddedBusError) -> [Int32: Int64] {
        try checkOpen()
        return try store.committedOffsets(group: group, topic: topic)
    }

    // MARK: Retention and other processes

    func applyRetention(now: Date) throws(EmbeddedBusError) -> Int {
        try checkOpen()
        let topics = try store.topics()
        let deleted = try store.connection.writeTransaction(mapError: EmbeddedBusError.sqlite) { () throws(EmbeddedBusError) -> Int in
            var deleted = 0
            for topic in topics {
                let policy = configuration.retention(for: topic.name)
                if policy.keepsEverything { continue }
                deleted += try store.applyRetention(policy, topic: topic.name, partitions: topic.partitions, now: now)
            }
            return deleted
        }
        lastRetention = ContinuousClock.now
        return deleted
    }

    /// One background task per log: the poll for other processes' appends (only while some member
    /// waits here; the fallback where the file watcher cannot see them) and periodic retention.
    func startMaintenance() {
        guard maintenance == nil else { return }
        lastDataVersion = (try? store.dataVersion()) ?? 0
        let interval = configuration.foreignWritePollInterval
        watcher = EmbeddedLogFileWatcher(logPath: path) { [weak self] in
            Task { await self?.checkForeignWrites() }
        }
        maintenance = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self else { return }
                await self.maintain()
            }
        }
    }

    /// Rings every waiting member if another process committed to the file since the last look.
    private func checkForeignWrites() {
        guard !isClosed else { return }
        if !members.isEmpty, let version = try? store.dataVersion(), version != lastDataVersion {
            lastDataVersion = version
            for member in members.values { member.doorbell.ring() }
        }
    }

    private func maintain() {
        guard !isClosed else { return }
        checkForeignWrites()
        if let interval = configuration.retentionInterval, ContinuousClock.now - lastRetention >= interval {
            do {
                let deleted = try applyRetention(now: Date())
                if deleted > 0 { logger.info("retention deleted records", metadata: ["count": "\(deleted)", "file": "\(path)"]) }
            } catch {
                logger.error("retention failed", metadata: ["file": "\(path)", "error": "\(error)"])
            }
        }
    }

    // MARK: Lifecycle

    func shutdown() {
        guard !isClosed else { return }
        isClosed = true
        maintenance?.cancel()
        maintenance = nil
        watcher?.stop()
        watcher = nil
        for member in members.values { member.doorbell.ring() }
        members = [:]
        store.close()
        executor.stop()
    }

    private func checkOpen() throws(EmbeddedBusError) {
        if isClosed { throw .closed(path: path) }
    }
}
