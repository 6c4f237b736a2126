import Foundation
import LockstepBus
import LockstepCore
import LockstepWire

/// One engine input read back for a rebuild, with where it was on the log.
struct RebuildInput: Sendable {
    let event: EngineEvent
    let key: Key

    var time: Date { key.time }

    /// Rebuild order: record time, then topic (in `coordinatorInputs` order), partition and offset.
    /// No two inputs tie, so the order is total and the same for every read of the same log. Kept
    /// apart from the event so merging compares plain values, without copying events.
    struct Key: Sendable {
        let time: Date
        let topic: Int
        let partition: Int32
        let offset: Int64

        func precedes(_ other: Key) -> Bool {
            if time != other.time { return time < other.time }
            if topic != other.topic { return topic < other.topic }
            if partition != other.partition { return partition < other.partition }
            return offset < other.offset
        }
    }

    /// The records' engine inputs, decoded in one slice per core: decoding (headers, then JSON, then
    /// the wire fields) is most of the reading, and records do not depend on one another. Records
    /// that are not engine inputs, or not valid, are left out as the coordinator leaves them.
    static func decode(_ records: [BusRecord], topic: Int) async -> [RebuildInput] {
        let slices = max(1, min(ProcessInfo.processInfo.activeProcessorCount, records.count / 1_000))
        let size = (records.count + slices - 1) / slices
        return await withTaskGroup(of: (Int, [RebuildInput]).self) { group in
            for slice in 0..<slices {
                let range = (slice * size)..<min(records.count, (slice + 1) * size)
                group.addTask {
                    (slice, records[range].compactMap { record in
                        guard let cloudEvent = try? CloudEvent(record), let event = try? WireCodec.decodeEngineEvent(cloudEvent) else { return nil }
                        return RebuildInput(event: event, key: Key(
                            time: record.timestamp, topic: topic, partition: record.position.partition, offset: record.position.offset))
                    })
                }
            }
            var decoded = [[RebuildInput]](repeating: [], count: slices)
            for await (slice, inputs) in group { decoded[slice] = inputs }
            return decoded.flatMap { $0 }
        }
    }

    /// The reader's next records, up to `size`; empty at the end of the range.
    static func chunk(of reader: any TopicReader, size: Int) async throws -> [BusRecord] {
        var records: [BusRecord] = []
        records.reserveCapacity(size)
        while records.count < size, let record = try await reader.next() { records.append(record) }
        return records
    }
}

/// The inputs of every topic in rebuild order while they are read, so the replay can start on the
/// first batch instead of after the whole log and a sort.
///
/// Each topic's reader gives its records in time order when the log's record times follow its
/// offsets (the embedded log stamps a record when it appends it), so a merge of the topics by their
/// next input gives the order a sort would. A short window absorbs records a little out of time
/// order (producers' clocks stamp Kafka's records). An input earlier than one that already went to
/// the replay is `OutOfOrder`: the caller reads the log again and sorts it whole, as every rebuild
/// did before.
actor RebuildInputStream {
    struct OutOfOrder: Error, CustomStringConvertible {
        let position: RecordPosition
        let time: Date
        let after: Date

        var description: String {
            "\(position.topic)[\(position.partition)]@\(position.offset) has time \(ISO8601.format(time)), "
                + "before \(ISO8601.format(after)) of an input already replayed"
        }
    }

    // One entry per topic, in parallel arrays rather than an array of structs: the merge reads the
    // next keys once per input, and reading a struct out of an actor's array copied its references.
    private let readers: [any TopicReader]
    private var inputs: [[RebuildInput]]
    private var heads: [Int]
    /// The key of each topic's next input; nil once the topic is read to its end.
    private var nextKeys: [RebuildInput.Key?]
    /// Each topic's next chunk, read and decoded while this one is merged; nil at the end.
    private var following: [Task<(inputs: [RebuildInput], records: Int), any Error>?]
    private let topicNames: [String]
    private var window: ReorderWindow
    private var last: RebuildInput.Key?
    private let chunkSize: Int

    init(bus: any EventBus, topics names: [String], chunkSize: Int, window: Int) async throws {
        topicNames = names
        self.chunkSize = max(1, chunkSize)
        self.window = ReorderWindow(capacity: max(1, window))
        var readers: [any TopicReader] = []
        do {
            for name in names { readers.append(try await bus.read(topic: name, from: .beginning, to: .latest)) }
        } catch {
            for reader in readers { await reader.close() }
            throw error
        }
        self.readers = readers
        inputs = Array(repeating: [], count: names.count)
        heads = Array(repeating: 0, count: names.count)
        nextKeys = Array(repeating: nil, count: names.count)
        following = readers.indices.map { Self.read(readers[$0], topic: $0, size: max(1, chunkSize)) }
        do {
            for index in names.indices { try await fill(index) }
        } catch {
            await close()
            throw error
        }
    }

    private static func read(_ reader: any TopicReader, topic: Int, size: Int) -> Task<(inputs: [RebuildInput], records: Int), any Error> {
        Task {
            let records = try await RebuildInput.chunk(of: reader, size: size)
            return (await RebuildInput.decode(records, topic: topic), records.count)
        }
    }

    /// The next inputs in rebuild order, up to `limit`; empty once every topic is read.
    /// - Throws: `OutOfOrder` for an input earlier than one this stream already gave.
    func next(limit: Int) async throws -> [RebuildInput] {
        var out: [RebuildInput] = []
        out.reserveCapacity(limit)
        while out.count < limit {
            var earliest: (index: Int, key: RebuildInput.Key)?
            for index in nextKeys.indices {
                guard let candidate = nextKeys[index] else { continue }
                if let e = earliest, !candidate.precedes(e.key) { continue }
                earliest = (index, candidate)
            }
            guard let e = earliest?.index else {
                while out.count < limit, let input = window.popFirst() { try emit(input, into: &out) }
                break
            }
            window.insert(inputs[e][heads[e]])
            heads[e] += 1
            if heads[e] < inputs[e].count {
                nextKeys[e] = inputs[e][heads[e]].key
            } else {
                try await fill(e)
            }
            if window.isFull, let input = window.popFirst() { try emit(input, into: &out) }
        }
        return out
    }

    private func emit(_ input: RebuildInput, into out: inout [RebuildInput]) throws {
        if let last, input.key.precedes(last) {
            let key = input.key
            throw OutOfOrder(position: RecordPosition(topic: topicNames[key.topic], partition: key.partition, offset: key.offset), time: key.time, after: last.time)
        }
        last = input.key
        out.append(input)
    }

    /// Takes the topic's next chunk once the one it has is merged, and starts reading the one after.
    private func fill(_ index: Int) async throws {
        nextKeys[index] = nil
        while let chunk = following[index] {
            let (decoded, records) = try await chunk.value
            inputs[index] = decoded
            heads[index] = 0
            following[index] = records == 0 ? nil : Self.read(readers[index], topic: index, size: chunkSize)
            if let first = decoded.first {
                nextKeys[index] = first.key
                return
            }
        }
    }

    /// Stops the reads still going and closes the readers.
    func close() async {
        for index in readers.indices {
            following[index]?.cancel()
            _ = try? await following[index]?.value
            following[index] = nil
            await readers[index].close()
        }
    }
}

/// Inputs held back until `capacity` later ones have been seen, given out earliest first. Nearly
/// sorted input (the usual case) is appended at the end; one a little early is inserted where it
/// belongs.
struct ReorderWindow {
    let capacity: Int
    private var items: [RebuildInput] = []
    private var head = 0

    init(capacity: Int) { self.capacity = capacity }

    var isFull: Bool { items.count - head > capacity }

    mutating func insert(_ input: RebuildInput) {
        guard head < items.count, input.key.precedes(items[items.count - 1].key) else {
            items.append(input)
            return
        }
        var low = head, high = items.count - 1
        while low < high {
            let middle = (low + high) / 2
            if input.key.precedes(items[middle].key) { high = middle } else { low = middle + 1 }
        }
        items.insert(input, at: low)
    }

    mutating func popFirst() -> RebuildInput? {
        guard head < items.count else { return nil }
        let first = items[head]
        head += 1
        if head >= 4_096, head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return first
    }
}
