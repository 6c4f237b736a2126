import CRdKafka
import Foundation
import LockstepBus
import LockstepKafka

/// KafkaBus against raw librdkafka (the C API, same settings) on a Tansu broker this bench starts:
/// publish→consume latency one record at a time (publish, wait for its delivery report, consume it) and
/// bulk throughput (publish in batches of 1000 awaiting every delivery report, then consume all, three
/// times with fresh groups, alternating raw and bus: one read takes a fraction of a second here, so a
/// single one mostly measures the neighbours).
enum KafkaBench {
    static let rounds = Int(ProcessInfo.processInfo.environment["LOCKSTEP_BENCH_ROUNDS"] ?? "") ?? 1_000
    static let warmup = 50
    static let bulkRecords = Int(ProcessInfo.processInfo.environment["LOCKSTEP_BENCH_RECORDS"] ?? "") ?? 200_000
    static let consumeRounds = 3
    static let bulkBatch = 1_000
    static let payload = [UInt8](repeating: 0x61, count: 100)

    /// Both sides: the bus's required settings and consumer defaults, plus the Tansu tolerances the tests use.
    static let common = KafkaConsumerDefaults.properties.merging([
        "enable.idempotence": "true", "acks": "all", "partitioner": "murmur2_random",
        "enable.auto.commit": "false", "enable.auto.offset.store": "false", "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "fetch.wait.max.ms": "10", "session.timeout.ms": "6000", "heartbeat.interval.ms": "500",
    ]) { _, bench in bench }
    /// Which of `common` only one kind of client reads: the raw clients get only their own kind's
    /// (librdkafka warns, `CONFWARN`, about every property of the other kind it is given).
    static let producerOnly: Set<String> = ["enable.idempotence", "acks", "partitioner", "linger.ms"]
    static let consumerOnly: Set<String> = Set(KafkaConsumerDefaults.properties.keys).union([
        "enable.auto.commit", "enable.auto.offset.store", "auto.offset.reset", "partition.assignment.strategy",
        "fetch.wait.max.ms", "session.timeout.ms", "heartbeat.interval.ms",
    ])
    /// Latency runs send one record at a time: no batching delay on either side.
    static let latencySettings = common.merging(["linger.ms": "0"]) { _, new in new }
    static let bulkSettings = common

    static func run() async throws {
        guard let tansu = ProcessInfo.processInfo.environment["PATH"].flatMap({ path in
            path.split(separator: ":").map { "\($0)/tansu" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }) else {
            print("skipped: tansu is not on PATH (scripts/install-deps.sh installs it)")
            return
        }
        let broker = try BenchBroker(tansu: tansu)
        defer { broker.stop() }
        let servers = "127.0.0.1:\(broker.port)"
        print("broker: Tansu at \(servers); librdkafka \(KafkaVersion.loadedString); \(rounds) rounds, \(bulkRecords) × \(payload.count) B")

        let setup = try KafkaBus(config: KafkaConfig(bootstrapServers: [servers], properties: bulkSettings))
        for topic in ["bench.raw.ping", "bench.bus.ping", "bench.raw.bulk", "bench.bus.bulk"] {
            try await setup.createTopic(topic, partitions: 1)
        }
        await setup.close()

        progress("raw ping-pong")
        let rawLatency = try await onThread { try RawKafka.pingPong(servers: servers, topic: "bench.raw.ping") }
        progress("KafkaBus ping-pong")
        let busLatency = try await busPingPong(servers: servers, topic: "bench.bus.ping")
        progress("raw bulk publish")
        let rawPublish = try await onThread { try RawKafka.bulkPublish(servers: servers, topic: "bench.raw.bulk") }
        progress("KafkaBus bulk publish")
        let busPublish = try await busBulkPublish(servers: servers, topic: "bench.bus.bulk")
        var rawReads: [Double] = [], busReads: [Double] = [], busBatchReads: [Double] = []
        for round in 0..<consumeRounds {
            progress("bulk consume, round \(round + 1) of \(consumeRounds)")
            rawReads.append(try await onThread {
                try RawKafka.bulkConsume(servers: servers, topic: "bench.raw.bulk", group: "bench-raw-bulk-\(round)")
            })
            busReads.append(try await busConsume(servers: servers, topic: "bench.bus.bulk", group: "bench-bus-bulk-\(round)", batch: nil))
            busBatchReads.append(try await busConsume(servers: servers, topic: "bench.bus.bulk", group: "bench-bus-batch-\(round)", batch: batchSize))
        }

        let (rawP50, rawP99) = percentiles(rawLatency), (busP50, busP99) = percentiles(busLatency)
        func row(_ name: String, _ raw: Double, _ bus: Double, _ unit: String, lowerIsBetter: Bool) {
            let ratio = lowerIsBetter ? bus / raw : raw / bus
            print(name.padding(toLength: 28, withPad: " ", startingAt: 0)
                + String(format: "%12.2f %12.2f %-10@ %5.2f×%@", raw, bus, unit, ratio, ratio <= 1.5 ? "" : "  (over 1.5×)"))
        }
        print("".padding(toLength: 28, withPad: " ", startingAt: 0) + "         raw     KafkaBus            KafkaBus/raw cost")
        row("publish→consume p50", rawP50, busP50, "ms", lowerIsBetter: true)
        row("publish→consume p99", rawP99, busP99, "ms", lowerIsBetter: true)
        row("bulk publish", rawPublish, busPublish, "rec/s", lowerIsBetter: false)
        row("bulk consume, next()", median(rawReads), median(busReads), "rec/s", lowerIsBetter: false)
        row("bulk consume, nextBatch(\(batchSize))", median(rawReads), median(busBatchReads), "rec/s", lowerIsBetter: false)
        print("(consume: median of \(consumeRounds) reads of \(bulkRecords) records each; raw: \(rawReads.map { String(format: "%.0f", $0) }.joined(separator: ", ")); "
            + "KafkaBus: \(busReads.map { String(format: "%.0f", $0) }.joined(separator: ", "))"
            + "; raw reads one message per rd_kafka_consumer_poll in both rows)")
    }

    // MARK: KafkaBus side

    static func busPingPong(servers: String, topic: String) async throws -> [Double] {
        let bus = try KafkaBus(config: KafkaConfig(bootstrapServers: [servers], properties: latencySettings))
        let consumer = try await bus.subscribe(group: "bench-bus-ping", topics: [topic])
        var samples: [Double] = []
        for round in 0..<(warmup + rounds) {
            let start = ContinuousClock.now
            try await bus.publish(OutgoingRecord(topic: topic, key: "k", value: payload))
            guard try await consumer.next() != nil else { throw BenchError("consumer closed") }
            if round >= warmup { samples.append(milliseconds(ContinuousClock.now - start)) }
        }
        await consumer.close()
        await bus.close()
        return samples
    }

    static func busBulkPublish(servers: String, topic: String) async throws -> Double {
        let bus = try KafkaBus(config: KafkaConfig(bootstrapServers: [servers], properties: bulkSettings))
        let batch = (0..<bulkBatch).map { OutgoingRecord(topic: topic, key: "k\($0 % 16)", value: payload) }
        try await bus.publish(batch[0])  // connect before timing
        let start = ContinuousClock.now
        for _ in 0..<(bulkRecords / bulkBatch) { try await bus.publish(batch) }
        let publishRate = Double(bulkRecords) / seconds(ContinuousClock.now - start)
        await bus.close()
        return publishRate
    }

    /// The coordinator reads in batches (one store transaction each); workers one record at a time.
    static let batchSize = 500

    static func busConsume(servers: String, topic: String, group: String, batch: Int?) async throws -> Double {
        let bus = try KafkaBus(config: KafkaConfig(bootstrapServers: [servers], properties: bulkSettings))
        let consumer = try await bus.subscribe(group: group, topics: [topic])
        guard try await consumer.next() != nil else { throw BenchError("consumer closed") }  // the join is not timed
        let start = ContinuousClock.now
        if let batch {
            var read = 0
            while read < bulkRecords {
                let records = try await consumer.nextBatch(max: min(batch, bulkRecords - read))
                guard !records.isEmpty else { throw BenchError("consumer closed") }
                read += records.count
            }
        } else {
            for _ in 0..<bulkRecords {
                guard try await consumer.next() != nil else { throw BenchError("consumer closed") }
            }
        }
        let rate = Double(bulkRecords) / seconds(ContinuousClock.now - start)
        await consumer.close()
        await bus.close()
        return rate
    }

    // MARK: Helpers

    static func progress(_ step: String) {
        FileHandle.standardError.write(Data("  … \(step)\n".utf8))
    }

    static func median(_ samples: [Double]) -> Double { samples.sorted()[samples.count / 2] }

    static func percentiles(_ samples: [Double]) -> (Double, Double) {
        let sorted = samples.sorted()
        guard !sorted.isEmpty else { return (0, 0) }
        return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
    }

    static func milliseconds(_ d: Duration) -> Double { seconds(d) * 1000 }
    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// The raw client blocks in librdkafka calls: give it a thread of its own, as the bus does.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A throwaway Tansu broker (memory storage) on a free loopback port.
final class BenchBroker: Sendable {
    let port: Int
    private let process: Process

    init(tansu: String) throws {
        // Bind port 0 to let the kernel pick a free port, then hand it to the broker.
        let probe = try ServerSocketPort()
        let port = probe.port
        probe.close()
        self.port = port
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tansu)
        let url = "tcp://127.0.0.1:\(port)"
        process.arguments = ["broker", "--listener-url", url, "--advertised-listener-url", url]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        for _ in 0..<600 where !ServerSocketPort.isAccepting(port) {
            guard process.isRunning else { throw BenchError("tansu exited with status \(process.terminationStatus)") }
            usleep(50_000)
        }
    }

    /// SIGTERM, then SIGKILL: with clients still connected Tansu can take long to exit, and its memory
    /// storage has nothing to save.
    func stop() {
        if process.isRunning { process.terminate() }
        for _ in 0..<40 where process.isRunning { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Just enough sockets to find a free port and see when the broker listens.
struct ServerSocketPort {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var addr = Self.loopback(port: 0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard fd >= 0, ok else { throw BenchError("cannot find a free port") }
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    func close() { _ = Foundation.close(fd) }

    static func isAccepting(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { _ = Foundation.close(fd) }
        var addr = loopback(port: port)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return addr
    }
}

/// The same work on librdkafka's C API directly: the baseline KafkaBus is measured against.
enum RawKafka {
    /// Counts delivery reports; only touched on the thread that polls the producer.
    final class Deliveries {
        var delivered = 0
        var failed = 0
    }

    static func handle(_ type: rd_kafka_type_t, servers: String, settings: [String: String],
                       configure: (OpaquePointer) -> Void = { _ in }) throws -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errstr = [CChar](repeating: 0, count: 512)
        for (name, value) in settings.merging(["bootstrap.servers": servers], uniquingKeysWith: { $1 }) {
            guard rd_kafka_conf_set(conf, name, value, &errstr, errstr.count) == RD_KAFKA_CONF_OK else {
                throw BenchError("rd_kafka_conf_set \(name)")
            }
        }
        configure(conf)
        guard let rk = rd_kafka_new(type, conf, &errstr, errstr.count) else { throw BenchError("rd_kafka_new failed") }
        return rk
    }

    static func producer(servers: String, settings: [String: String], deliveries: Deliveries) throws -> OpaquePointer {
        try handle(RD_KAFKA_PRODUCER, servers: servers, settings: settings.filter { !KafkaBench.consumerOnly.contains($0.key) }) { conf in
            rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(deliveries).toOpaque())
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
                let deliveries = Unmanaged<Deliveries>.fromOpaque(opaque!).takeUnretainedValue()
                if message!.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR { deliveries.delivered += 1 } else { deliveries.failed += 1 }
            }
        }
    }

    static func consumer(servers: String, settings: [String: String], group: String, topic: String) throws -> OpaquePointer {
        let own = settings.filter { !KafkaBench.producerOnly.contains($0.key) }
        let rk = try handle(RD_KAFKA_CONSUMER, servers: servers, settings: own.merging(["group.id": group]) { $1 })
        rd_kafka_poll_set_consumer(rk)
        let list = rd_kafka_topic_partition_list_new(1)!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA)
        guard rd_kafka_subscribe(rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR else { throw BenchError("subscribe failed") }
        return rk
    }

    static func produce(_ rk: OpaquePointer, topic: String, key: String, value: [UInt8]) -> rd_kafka_resp_err_t {
        topic.withCString { topicName in
            key.withCString { keyBytes in
                value.withUnsafeBytes { bytes in
                    var vu = [rd_kafka_vu_t](repeating: rd_kafka_vu_t(), count: 4)
                    vu[0].vtype = RD_KAFKA_VTYPE_TOPIC
                    vu[0].u.cstr = topicName
                    vu[1].vtype = RD_KAFKA_VTYPE_KEY
                    vu[1].u.mem.ptr = UnsafeMutableRawPointer(mutating: keyBytes)
                    vu[1].u.mem.size = strlen(keyBytes)
                    vu[2].vtype = RD_KAFKA_VTYPE_VALUE
                    vu[2].u.mem.ptr = UnsafeMutableRawPointer(mutating: bytes.baseAddress)
                    vu[2].u.mem.size = bytes.count
                    vu[3].vtype = RD_KAFKA_VTYPE_MSGFLAGS
                    vu[3].u.i = RD_KAFKA_MSG_F_COPY
                    guard let error = rd_kafka_produceva(rk, vu, vu.count) else { return RD_KAFKA_RESP_ERR_NO_ERROR }
                    defer { rd_kafka_error_destroy(error) }
                    return rd_kafka_error_code(error)
                }
            }
        }
    }

    /// Polls until a record arrives and copies its key and value out, the least any consumer does.
    @discardableResult
    static func nextMessage(_ rk: OpaquePointer) -> (key: [UInt8], value: [UInt8]) {
        while true {
            guard let message = rd_kafka_consumer_poll(rk, 100) else { continue }
            defer { rd_kafka_message_destroy(message) }
            guard message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
            let m = message.pointee
            return (m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) } ?? [],
                    m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) } ?? [])
        }
    }

    static func pingPong(servers: String, topic: String) throws -> [Double] {
        let deliveries = Deliveries()
        let producer = try producer(servers: servers, settings: KafkaBench.latencySettings, deliveries: deliveries)
        let consumer = try consumer(servers: servers, settings: KafkaBench.latencySettings, group: "bench-raw-ping", topic: topic)
        defer {
            rd_kafka_consumer_close(consumer)
            rd_kafka_destroy(consumer)
            rd_kafka_destroy(producer)
        }
        var samples: [Double] = []
        for round in 0..<(KafkaBench.warmup + KafkaBench.rounds) {
            let start = ContinuousClock.now
            guard produce(producer, topic: topic, key: "k", value: KafkaBench.payload) == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw BenchError("produce failed")
            }
            let target = deliveries.delivered + deliveries.failed + 1
            while deliveries.delivered + deliveries.failed < target { rd_kafka_poll(producer, 100) }
            nextMessage(consumer)
            if round >= KafkaBench.warmup { samples.append(KafkaBench.milliseconds(ContinuousClock.now - start)) }
        }
        return samples
    }

    static func bulkPublish(servers: String, topic: String) throws -> Double {
        let deliveries = Deliveries()
        let producer = try producer(servers: servers, settings: KafkaBench.bulkSettings, deliveries: deliveries)
        defer { rd_kafka_destroy(producer) }
        _ = produce(producer, topic: topic, key: "k", value: KafkaBench.payload)  // connect before timing
        while deliveries.delivered + deliveries.failed < 1 { rd_kafka_poll(producer, 100) }
        let keys = (0..<KafkaBench.bulkBatch).map { "k\($0 % 16)" }
        let start = ContinuousClock.now
        var sent = 1
        for _ in 0..<(KafkaBench.bulkRecords / KafkaBench.bulkBatch) {
            for key in keys {
                while produce(producer, topic: topic, key: key, value: KafkaBench.payload) == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                    rd_kafka_poll(producer, 1)
                }
                sent += 1
            }
            while deliveries.delivered + deliveries.failed < sent { rd_kafka_poll(producer, 100) }
        }
        let publishRate = Double(KafkaBench.bulkRecords) / KafkaBench.seconds(ContinuousClock.now - start)
        guard deliveries.failed == 0 else { throw BenchError("\(deliveries.failed) deliveries failed") }
        return publishRate
    }

    static func bulkConsume(servers: String, topic: String, group: String) throws -> Double {
        let consumer = try consumer(servers: servers, settings: KafkaBench.bulkSettings, group: group, topic: topic)
        defer {
            rd_kafka_consumer_close(consumer)
            rd_kafka_destroy(consumer)
        }
        nextMessage(consumer)  // the join is not timed
        let consumeStart = ContinuousClock.now
        for _ in 0..<KafkaBench.bulkRecords { nextMessage(consumer) }
        return Double(KafkaBench.bulkRecords) / KafkaBench.seconds(ContinuousClock.now - consumeStart)
    }
}
