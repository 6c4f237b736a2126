import Foundation
import LockstepTestSupport
import Testing

@testable import LockstepCore

/// `JSONValueEncoder` then `canonicalJSON()` must give `JSONEncoder`'s bytes (`.sortedKeys`,
/// `.withoutEscapingSlashes`) for what the state store writes — runs in every state the engine
/// leaves them in, pools, paused DAGs — which `JSONDecoder` reads.
@Suite struct JSONValueEncoderTests {
    static func foundationBytes(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// The same bytes as `JSONEncoder`, and `JSONDecoder` reads them. (A run need not read back
    /// equal: JSON has one kind of number, so a conf's 2.0 comes back as the integer 2, with either
    /// encoder.)
    @discardableResult
    static func expectSameBytes<T: Codable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws -> T {
        let direct = try JSONValueEncoder().encode(value).canonicalJSON()
        #expect(direct == (try foundationBytes(value)), sourceLocation: sourceLocation)
        return try JSONDecoder().decode(T.self, from: Data(direct.utf8))
    }

    @Test(arguments: 0..<3)
    func runsInEveryStateTheEngineLeavesThemInEncodeAsJSONEncoderDid(seed: UInt64) throws {
        let state = Self.engineState(seed: seed)
        #expect(state.runs.values.contains { $0.state == .failed } && state.runs.values.contains { $0.state == .succeeded })
        for run in state.runs.values { try Self.expectSameBytes(run) }
        try Self.expectSameBytes(state.pools)
        try Self.expectSameBytes(state.pausedDags.union(["x/y", "é"]))
    }

    /// Runs a random workload leaves behind: retries, failures, pools, random confs and outputs.
    static func engineState(seed: UInt64) -> EngineState {
        var random = SplitMix64(seed: 0xE4C0_0000 + seed)
        let dag = DagSpec(id: "store/dag", maxActiveRuns: 3, tasks: [
            TaskSpec(id: "a", operator: "noop", retry: RetryPolicy(retries: 2, delay: .seconds(1))),
            TaskSpec(id: "b", operator: "noop", upstream: ["a"], pool: "p"),
            TaskSpec(id: "c", operator: "noop", upstream: ["a"], timeout: .seconds(30)),
            TaskSpec(id: "d", operator: "noop", upstream: ["b", "c"], triggerRule: .allDone),
        ])
        var harness = EngineHarness([dag], pools: ["p": 1])
        var inFlight: [AttemptID] = []
        for step in 0..<300 {
            if step % 7 == 0 {
                let trace = Bool.random(using: &random) ? TraceContext(traceID: "4bf92f3577b34da6a3ce929d0e0e4736", parentSpanID: "00f067aa0ba902b7") : nil
                harness.send(.runRequested(RunRequest(
                    runID: "run/\(step)", dagID: dag.id, logicalDate: harness.now.addingTimeInterval(Double(step) * 0.001),
                    conf: RandomJSON.value(depth: 2, using: &random), trace: trace)), after: 0.25)
            }
            inFlight += harness.dispatched.map(\.attempt)
            guard !inFlight.isEmpty else { continue }
            let attempt = inFlight.remove(at: Int.random(in: 0..<inFlight.count, using: &random))
            harness.send(.taskStarted(attempt, worker: "worker-1/\(RandomJSON.string(using: &random))"), after: 0.125)
            switch Int.random(in: 0..<8, using: &random) {
            case 0: harness.send(.taskFailed(attempt, TaskFailure(message: RandomJSON.string(using: &random), retryable: Bool.random(using: &random))))
            default:
                harness.send(.taskSucceeded(attempt, TaskSuccess(
                    output: RandomJSON.value(depth: 1, using: &random), warnings: Bool.random(using: &random) ? [RandomJSON.string(using: &random)] : [])),
                    after: 1.0 / 3)
            }
            inFlight += harness.dispatched.map(\.attempt)
        }
        return harness.state
    }

    struct Shapes: Codable, Equatable {
        enum Kind: Codable, Equatable { case plain, tagged(name: String, weight: Float), nested([Int8: UInt16]), numbered([Int: Bool]) }
        var kinds: [Kind]
        var missing: String?
        var present: Double?
        var big: UInt64
        var when: Date
        var nothing: Nothing
        struct Nothing: Codable, Equatable {
            init() {}
            init(from decoder: any Decoder) throws {}
            func encode(to encoder: any Encoder) throws {}
        }
    }

    @Test func enumsOptionalsFloatsDatesAndEmptyValuesEncodeAsJSONEncoderDid() throws {
        let shapes = Shapes(
            kinds: [.plain, .tagged(name: "a/b\u{1}", weight: 0.1), .nested([3: 4, -1: 65535]), .numbered([10: true, 9: false])], missing: nil, present: 2.5,
            big: UInt64(Int64.max), when: Date(timeIntervalSinceReferenceDate: 786_297_600.125), nothing: .init())
        #expect(try Self.expectSameBytes(shapes) == shapes)
    }

    struct WithSuper: Codable, Equatable {
        var a: Int
        enum CodingKeys: String, CodingKey { case a }
        init(a: Int) { self.a = a }
        init(from decoder: any Decoder) throws { a = try decoder.container(keyedBy: CodingKeys.self).decode(Int.self, forKey: .a) }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(a, forKey: .a)
            try [a, a].encode(to: container.superEncoder())
        }
    }

    @Test func aSuperEncoderWritesUnderSuperAsJSONEncoderDid() throws {
        #expect(try Self.expectSameBytes(WithSuper(a: 7)) == WithSuper(a: 7))
        #expect(try JSONValueEncoder().encode(WithSuper(a: 7)) == ["a": 7, "super": [7, 7]])
    }

    @Test func aNumberJSONValueCannotHoldIsAnError() {
        #expect(throws: EncodingError.self) { try JSONValueEncoder().encode(["big": UInt64.max]) }
    }
}
