import ArgumentParser
import Foundation
import LockstepBus
import LockstepCore

/// `lockstep events publish|tail` on the embedded log in a data directory.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "Publish and read events on the embedded log.",
        subcommands: [Publish.self, Tail.self])

    /// Publishes numbered test events and prints each acknowledgement: the crash-safety test's child.
    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish N test events (data {\"seq\": i}); print 'acked <partition> <offset>' once each is durable.",
            shouldDisplay: false)
        @Option(help: "The data directory holding the embedded log.") var dataDir: String
        @Option(help: "The topic to publish to (created if missing).") var topic: String
        @Option(help: "How many events.") var count: Int = 1
        @Option(help: "The record key (default: none, round-robin over partitions).") var key: String?
        @Option(help: "Events per publish call (one transaction each).") var batch: Int = 10

        func run() async throws {
            let bus = try EmbeddedBus(directory: URL(fileURLWithPath: dataDir))
            var seq = 0
            while seq < count {
                let upTo = min(count, seq + max(1, batch))
                let records = (seq..<upTo).map { i in
                    CloudEvent(id: "publish-\(i)", source: "/lockstep/cli", type: "io.lockstep.test.published",
                               time: Date(), data: ["seq": .int(Int64(i))]).record(topic: topic, key: key)
                }
                let positions = try await bus.publish(records)
                // One write per batch, unbuffered: a reader of the pipe sees an ack as soon as it is durable.
                let lines = positions.map { "acked \($0.partition) \($0.offset)\n" }.joined()
                FileHandle.standardOutput.write(Data(lines.utf8))
                seq = upTo
            }
            await bus.close()
        }
    }

    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print events as they arrive: '<partition> <offset> <time> <type> <id> <data>'.")
        @Option(help: "The data directory holding the embedded log.") var dataDir: String
        @Option(help: "The topic to read.") var topic: String
        @Flag(help: "Start at the oldest record kept instead of new ones only.") var fromBeginning = false
        @Option(help: "Consume as this group and commit what was printed (default: a throwaway group).") var group: String?
        @Option(help: "Exit after this many records.") var max: Int?

        func run() async throws {
            let bus = try EmbeddedBus(directory: URL(fileURLWithPath: dataDir))
            let consumer = try await bus.subscribe(group: group ?? "lockstep-tail-\(UUID().uuidString)", topics: [topic])
            // A named group resumes from its committed offsets unless asked to start over.
            if fromBeginning {
                try await consumer.seek(.beginning)
            } else if group == nil {
                try await consumer.seek(.end)
            }
            var printed = 0
            while max.map({ printed < $0 }) ?? true, let record = try await consumer.next() {
                let position = "\(record.position.partition) \(record.position.offset)"
                let line: String
                do throws(EventDecodingError) {
                    let event = try CloudEvent(record)
                    let time = event.time.map(CloudEvent.formatTime) ?? "-"
                    line = "\(position) \(time) \(event.type) \(event.id) \(event.data?.canonicalJSON() ?? "null")"
                } catch {
                    line = "\(position) undecodable: \(error.reason)"
                }
                // Unbuffered, so a pipe sees each event as it arrives.
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
                if group != nil { try await consumer.commit(record.position) }
                printed += 1
            }
            await consumer.close()
            await bus.close()
        }
    }
}
