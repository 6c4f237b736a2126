import Foundation
import LockstepBus
import LockstepDrivers
import LockstepTestSupport

/// What no pipeline figure on this machine can beat, measured in the same process as the figures so a
/// ratio compares like with like (same disk, same load): one durable SQLite commit (WAL,
/// `synchronous=FULL`, one row, as every store and log write is) and one raw publish → consume on the
/// embedded log (a durable append, then the consumer woken and holding the record).
struct Floors: Sendable {
    var commitP50: Double
    var commitP99: Double
    var publishConsumeP50: Double
    var publishConsumeP99: Double

    static let commits = 1_000
    static let rounds = 1_000
    static let warmup = 100

    /// Measured once per process, then reused by every bench that prints ratios.
    static func measured() async throws -> Floors {
        if let cached = await FloorCache.shared.value { return cached }
        let floors = try await measure()
        await FloorCache.shared.store(floors)
        print(floors.line)
        return floors
    }

    var line: String {
        String(format: "floors (this run): one durable SQLite commit (WAL, synchronous=FULL, 1 row) p50 %.3f ms, p99 %.3f ms; "
            + "embedded log publish→consume (fsync included) p50 %.3f ms, p99 %.3f ms",
               commitP50, commitP99, publishConsumeP50, publishConsumeP99)
    }

    /// "= N× the commit floor, M× the publish→consume floor" for a latency in milliseconds.
    /// The publish→consume floor is the embedded log's: left out for a figure measured on Kafka.
    func ratios(ms: Double, embedded: Bool = true) -> String {
        embedded
            ? String(format: "%.1f× the commit floor, %.1f× the embedded publish→consume floor", ms / commitP50, ms / publishConsumeP50)
            : String(format: "%.1f× the commit floor (the state store's)", ms / commitP50)
    }

    /// A throughput in transitions/s as time per transition beside one durable commit: below 1× means
    /// several transitions share a commit.
    func ratios(perSecond rate: Double) -> String {
        let perTransition = 1000 / rate
        return String(format: "%.3f ms per transition = %.2f× the commit floor (a commit each would cap it at %.0f/s)",
                      perTransition, perTransition / commitP50, 1000 / commitP50)
    }

    static func measure() async throws -> Floors {
        let directory = try TestPaths.temporaryDirectory("lockstep-bench-floors")
        defer { try? FileManager.default.removeItem(at: directory) }
        let commit = try sqliteCommits(path: directory.appendingPathComponent("floor.sqlite").path)
        let hop = try await publishConsume(directory: directory.appendingPathComponent("log"))
        return Floors(commitP50: commit.0, commitP99: commit.1, publishConsumeP50: hop.0, publishConsumeP99: hop.1)
    }

    /// One INSERT in its own BEGIN IMMEDIATE … COMMIT, each timed.
    static func sqliteCommits(path: String) throws -> (Double, Double) {
        let db = try SQLiteConnection(path: path)
        try db.useWriteAheadLog()
        try db.execute("CREATE TABLE floor (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        var samples: [Double] = []
        for i in 0..<(commits + warmup) {
            let start = DispatchTime.now().uptimeNanoseconds
            try db.writeTransaction(mapError: { $0 }) { () throws(SQLiteError) in
                try db.statement("INSERT INTO floor (id, body) VALUES (?, ?)").bind(1, Int64(i)).bind(2, "row \(i)").run()
            }
            if i >= warmup { samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6) }
        }
        db.close()
        return PipelineBench.percentiles(samples)
    }

    /// Publish one record, then take it from a subscribed consumer: the least one hop between two
    /// components costs.
    static func publishConsume(directory: URL) async throws -> (Double, Double) {
        let bus = try EmbeddedBus(directory: directory)
        try await bus.createTopic("floor.hop", partitions: 1)
        let consumer = try await bus.subscribe(group: "floor", topics: ["floor.hop"])
        var samples: [Double] = []
        for i in 0..<(rounds + warmup) {
            let start = DispatchTime.now().uptimeNanoseconds
            try await bus.publish(OutgoingRecord(topic: "floor.hop", key: "k", value: Array("round \(i)".utf8)))
            guard try await consumer.next() != nil else { throw BenchError("floor consumer ended early") }
            if i >= warmup { samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6) }
        }
        await consumer.close()
        await bus.close()
        return PipelineBench.percentiles(samples)
    }

    static func run() async throws {
        _ = try await measured()
    }
}

actor FloorCache {
    static let shared = FloorCache()
    private(set) var value: Floors?
    func store(_ floors: Floors) { value = floors }
}
