import Foundation
import LockstepBus

/// The embedded log's latency and throughput: a publish → consume ping-pong woken in-process, and bulk
/// publish and consume. Every publish is a durable (fsynced) commit, as in production.
enum EmbeddedBench {
    static func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lockstep-bench-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: directory) }
        let bus = try EmbeddedBus(directory: directory)
        try await pingPong(bus, rounds: 2_000, warmup: 200)
        try await bulk(bus, records: 100_000, batch: 500)
        await bus.close()
    }

    /// One-way latency: from just before `publish` until the consumer holds the record.
    static func pingPong(_ bus: EmbeddedBus, rounds: Int, warmup: Int) async throws {
        try await bus.createTopic("bench.ping", partitions: 1)
        try await bus.createTopic("bench.pong", partitions: 1)
        let pings = try await bus.subscribe(group: "bench-responder", topics: ["bench.ping"])
        let pongs = try await bus.subscribe(group: "bench-initiator", topics: ["bench.pong"])
        let total = rounds + warmup

        let responder = Task { () -> [UInt64] in
            var oneWay: [UInt64] = []
            for _ in 0..<total {
                guard let ping = try await pings.next() else { break }
                oneWay.append(now() - stamp(ping.value))
                try await bus.publish(OutgoingRecord(topic: "bench.pong", key: nil, value: bytes(now())))
            }
            return oneWay
        }
        var oneWay: [UInt64] = []
        var roundTrip: [UInt64] = []
        for _ in 0..<total {
            let start = now()
            try await bus.publish(OutgoingRecord(topic: "bench.ping", key: nil, value: bytes(start)))
            guard let pong = try await pongs.next() else { break }
            let end = now()
            oneWay.append(end - stamp(pong.value))
            roundTrip.append(end - start)
        }
        oneWay += try await responder.value
        await pings.close()
        await pongs.close()
        // Drop the warm-up rounds of both legs (the first `warmup` of each half).
        let measured = Array(oneWay[warmup..<total]) + Array(oneWay[(total + warmup)...])
        report("embedded publish→consume (one way, fsync included)", measured)
        report("embedded ping-pong round trip (2 publishes)", Array(roundTrip[warmup...]))
    }

    static func bulk(_ bus: EmbeddedBus, records: Int, batch: Int) async throws {
        try await bus.createTopic("bench.bulk", partitions: 4)
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: 200)
        let publishStart = now()
        var published = 0
        while published < records {
            let count = min(batch, records - published)
            try await bus.publish((0..<count).map { i in
                OutgoingRecord(topic: "bench.bulk", key: "key-\((published + i) % 64)", value: payload,
                               headers: [BusHeader("ce_id", "\(published + i)")])
            })
            published += count
        }
        let publishSeconds = Double(now() - publishStart) / 1e9
        let consumer = try await bus.subscribe(group: "bench-bulk", topics: ["bench.bulk"])
        let consumeStart = now()
        var consumed = 0
        while consumed < records, try await consumer.next() != nil { consumed += 1 }
        let consumeSeconds = Double(now() - consumeStart) / 1e9
        await consumer.close()
        print(String(format: "embedded bulk publish: %d records (200 B, batches of %d) in %.2f s = %.0f records/s",
                     records, batch, publishSeconds, Double(records) / publishSeconds))
        print(String(format: "embedded bulk consume: %d records in %.2f s = %.0f records/s",
                     consumed, consumeSeconds, Double(consumed) / consumeSeconds))
    }

    private static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
    private static func bytes(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    private static func stamp(_ bytes: [UInt8]) -> UInt64 {
        bytes.prefix(8).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    private static func report(_ name: String, _ samples: [UInt64]) {
        let sorted = samples.sorted()
        func ms(_ q: Double) -> Double { Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]) / 1e6 }
        print(String(format: "%@: n=%d p50=%.3f ms p90=%.3f ms p99=%.3f ms max=%.3f ms", name, sorted.count, ms(0.5), ms(0.9),
                     ms(0.99), Double(sorted.last ?? 0) / 1e6))
    }
}
