import Foundation
import LockstepBus
import LockstepCore
import LockstepTestSupport
import Testing

/// A running bus the conformance suite talks to, whatever carries it.
protocol BusFixture: Sendable {
    var bus: any EventBus { get }
    /// Another client of the same log, as a second process would have: for multi-member groups.
    func makeBus() async throws -> any EventBus
    /// Closes every client it made and stops what it started.
    func stop() async
}

/// The transports one conformance suite runs over, unchanged.
enum BusTransport: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case embedded
    case kafka

    var testDescription: String { rawValue }

    func start() async throws -> any BusFixture {
        switch self {
        case .embedded:
            return try EmbeddedBusFixture()
        case .kafka:
            guard KafkaFixture.isAvailable else {
                try Test.cancel("kafka: no tansu broker on PATH (scripts/install-deps.sh installs it); case not run")
            }
            return KafkaConformanceFixture(try await KafkaFixture.start())
        }
    }

    /// Runs `body` against a fresh fixture and stops it afterwards, also when `body` fails.
    func run(_ body: (any BusFixture) async throws -> Void) async throws {
        let fixture = try await start()
        do {
            try await body(fixture)
        } catch {
            await fixture.stop()
            throw error
        }
        await fixture.stop()
    }
}

/// The embedded log in a throwaway directory. Buses made by `makeBus` open the same file and, being in
/// this process, share its group coordinator, which is what a second member needs.
final class EmbeddedBusFixture: BusFixture {
    let directory: URL
    let embedded: EmbeddedBus
    var bus: any EventBus { embedded }
    private let extra = LockedList<EmbeddedBus>()

    init(configuration: EmbeddedBusConfiguration = EmbeddedBusConfiguration()) throws {
        directory = try TestPaths.temporaryDirectory("lockstep-bus")
        embedded = try EmbeddedBus(directory: directory, configuration: configuration)
    }

    func makeBus() async throws -> any EventBus {
        let bus = try EmbeddedBus(directory: directory)
        extra.append(bus)
        return bus
    }

    func stop() async {
        for bus in extra.all { await bus.close() }
        await embedded.close()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A Tansu broker from `KafkaFixture`; extra clients are closed with it.
final class KafkaConformanceFixture: BusFixture {
    let kafka: KafkaFixture
    private let extra = LockedList<any EventBus>()
    var bus: any EventBus { kafka.bus }

    init(_ kafka: KafkaFixture) { self.kafka = kafka }

    func makeBus() async throws -> any EventBus {
        let bus = try kafka.makeBus()
        extra.append(bus)
        return bus
    }

    func stop() async {
        for bus in extra.all { await bus.close() }
        await kafka.stop()
    }
}

final class LockedList<Element>: @unchecked Sendable {
    // @unchecked: `items` is only touched with `lock` held.
    private let lock = NSLock()
    private var items: [Element] = []
    func append(_ item: Element) {
        lock.lock()
        items.append(item)
        lock.unlock()
    }
    var all: [Element] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

// MARK: Helpers shared by the bus tests

/// A topic or group name no other test (or earlier run on the same broker) uses.
func uniqueName(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

/// A numbered test event as a binary-mode record.
func numberedEvent(_ seq: Int, topic: String, key: String?) -> OutgoingRecord {
    CloudEvent(id: "\(topic)-\(seq)", source: "/lockstep/tests", type: "io.lockstep.test.numbered",
               subject: key, data: ["seq": .int(Int64(seq)), "key": key.map(JSONValue.string) ?? .null])
        .record(topic: topic, key: key)
}

/// The `seq` a numbered event carries.
func seq(_ record: BusRecord) throws -> Int {
    let event = try CloudEvent(record)
    guard let value = event.data?["seq"]?.intValue else { throw TestSupportError("record \(record.position) has no seq") }
    return Int(value)
}

struct TimedOut: Error, CustomStringConvertible {
    var description: String
}

/// Runs `operation`, failing with `what` if it has not finished within `timeout`. Generous timeouts
/// only: they catch hangs, they do not measure speed.
func within<T: Sendable>(_ timeout: Duration, _ what: String, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TimedOut(description: "timed out after \(timeout): \(what)")
        }
        return value
    }
}

/// Reads `count` records from `consumer`; closes the consumer (to unblock `next()`) if they do not come in time.
func take(_ count: Int, from consumer: any GroupConsumer, timeout: Duration = .seconds(60), commit: Bool = false)
    async throws -> [BusRecord]
{
    let watchdog = Task {
        try await Task.sleep(for: timeout)
        await consumer.close()
    }
    defer { watchdog.cancel() }
    var records: [BusRecord] = []
    while records.count < count, let record = try await consumer.next() {
        records.append(record)
        if commit { try await consumer.commit(record.position) }
    }
    if records.count < count {
        throw TimedOut(description: "got \(records.count) of \(count) records within \(timeout)")
    }
    return records
}

/// Waits until `condition` holds, checking every 20 ms; fails after `timeout`.
func eventually(_ what: String, timeout: Duration = .seconds(60), _ condition: @Sendable () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        if ContinuousClock.now > deadline { throw TimedOut(description: "timed out after \(timeout) waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// Waits until the wall clock is past `instant`, so records published next carry later timestamps.
func waitForClock(toPass instant: Date) async throws {
    while Date() <= instant { try await Task.sleep(for: .milliseconds(2)) }
}
