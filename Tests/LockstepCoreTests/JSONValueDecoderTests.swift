import Foundation
import Testing

@testable import LockstepCore

/// `JSONValueDecoder` must read what `JSONDecoder` reads from the state store's documents — runs in
/// every state, written by either encoder, with `/` escaped or not — and refuse what it refuses,
/// with a `DecodingError` of the same kind.
@Suite struct JSONValueDecoderTests {
    static func both<T: Decodable & Equatable>(_ type: T.Type, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> T {
        let direct = try JSONValueDecoder().decode(type, from: Array(text.utf8))
        #expect(direct == (try JSONDecoder().decode(type, from: Data(text.utf8))), sourceLocation: sourceLocation)
        return direct
    }

    @Test(arguments: 0..<3)
    func runsReadAsJSONDecoderReadsThem(seed: UInt64) throws {
        let state = JSONValueEncoderTests.engineState(seed: seed)
        let slashes = JSONEncoder()
        slashes.outputFormatting = [.sortedKeys]  // the store's bytes before JSONValueEncoder: `\/`
        for run in state.runs.values {
            _ = try Self.both(DagRun.self, try JSONValueEncoder().encode(run).canonicalJSON())
            _ = try Self.both(DagRun.self, String(decoding: try slashes.encode(run), as: UTF8.self))
        }
        _ = try Self.both([String: PoolState].self, try JSONValueEncoder().encode(state.pools).canonicalJSON())
    }

    @Test func enumsOptionalsFloatsDatesAndSuperRoundTrip() throws {
        let shapes = JSONValueEncoderTests.Shapes(
            kinds: [.plain, .tagged(name: "a/b", weight: 0.1), .nested([3: 4, -1: 65535]), .numbered([10: true])], missing: nil,
            present: 2.5, big: UInt64(Int64.max), when: Date(timeIntervalSinceReferenceDate: 786_297_600.125), nothing: .init())
        #expect(try Self.both(JSONValueEncoderTests.Shapes.self, try JSONValueEncoder().encode(shapes).canonicalJSON()) == shapes)
        let withSuper = JSONValueEncoderTests.WithSuper(a: 7)
        #expect(try Self.both(JSONValueEncoderTests.WithSuper.self, try JSONValueEncoder().encode(withSuper).canonicalJSON()) == withSuper)
    }

    struct Small: Codable, Equatable {
        var name: String
        var count: UInt8
        var tags: [String]
        var note: String?
    }

    enum Kind { case keyNotFound, typeMismatch, valueNotFound, dataCorrupted }

    static func kind(_ error: any Error) -> Kind? {
        switch error as? DecodingError {
        case .keyNotFound: .keyNotFound
        case .typeMismatch: .typeMismatch
        case .valueNotFound: .valueNotFound
        case .dataCorrupted: .dataCorrupted
        default: nil
        }
    }

    @Test(arguments: [
        (#"{"count":1,"tags":[]}"#, Kind.keyNotFound, ""),
        (#"{"name":5,"count":1,"tags":[]}"#, .typeMismatch, "name"),
        (#"{"name":null,"count":1,"tags":[]}"#, .valueNotFound, "name"),
        (#"{"name":"a","count":300,"tags":[]}"#, .dataCorrupted, "count"),
        (#"{"name":"a","count":1,"tags":["x",2]}"#, .typeMismatch, "tags/Index 1"),
        (#"{"name":"a","count":1,"tags":[],"note":7}"#, .typeMismatch, "note"),
        (#"["name"]"#, .typeMismatch, ""),
        (#"{"name":"a""#, .dataCorrupted, ""),
    ] as [(String, Kind, String)])
    func refusalsAreTheDecodersWithTheirPath(text: String, kind: Kind, path: String) {
        var direct: (any Error)?
        do { _ = try JSONValueDecoder().decode(Small.self, from: Array(text.utf8)) } catch { direct = error }
        var foundation: (any Error)?
        do { _ = try JSONDecoder().decode(Small.self, from: Data(text.utf8)) } catch { foundation = error }
        #expect(direct.flatMap(Self.kind) == kind, "\(String(describing: direct))")
        #expect(foundation.flatMap(Self.kind) == kind, "Foundation: \(String(describing: foundation))")
        if case .some(let error as DecodingError) = direct {
            let context: DecodingError.Context? = switch error {
            case .keyNotFound(_, let c), .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): c
            @unknown default: nil
            }
            #expect(context?.codingPath.map(\.stringValue).joined(separator: "/") == path)
        }
    }

    @Test func optionalsMissingOrNullAreNil() throws {
        #expect(try Self.both(Small.self, #"{"name":"a","count":1,"tags":[]}"#).note == nil)
        #expect(try Self.both(Small.self, #"{"name":"a","count":1,"tags":[],"note":null}"#).note == nil)
    }
}
