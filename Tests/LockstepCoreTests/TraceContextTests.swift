import Foundation
import Testing

@testable import LockstepCore

/// W3C Trace Context parsing, the ids derived from a run, the engine carrying a run's trace, and the
/// OTLP endpoint settings.
@Suite struct TraceContextTests {
    static let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func aValidTraceparentIsRead() throws {
        let trace = try #require(TraceContext.parse(traceparent: Self.valid, tracestate: "rojo=00f067aa0ba902b7"))
        #expect(trace.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(trace.parentSpanID == "00f067aa0ba902b7")
        #expect(trace.flags == "01")
        #expect(trace.tracestate == "rojo=00f067aa0ba902b7")
        #expect(trace.traceparent(spanID: "b7ad6b7169203331") == "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01")
    }

    /// The W3C spec's cases a receiver must treat as no trace context (and so start a new trace).
    @Test(arguments: [
        "", "garbage", "00-aa-bb-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // all-zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // version ff
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // version 00 with more
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",  // not hex
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
    ])
    func aMalformedTraceparentIsIgnored(_ text: String) {
        #expect(TraceContext.parse(traceparent: text) == nil, "\(text)")
    }

    @Test func aLaterVersionIsReadByItsFirstFields() {
        let trace = TraceContext.parse(traceparent: "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds")
        #expect(trace?.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
    }

    @Test func derivedIdsAreValidStableAndDistinct() {
        let a = AttemptID(runID: "r1", taskID: "t", tryNumber: 1)
        let b = AttemptID(runID: "r1", taskID: "t", tryNumber: 2)
        #expect(TraceContext.spanID(of: a) == TraceContext.spanID(of: a))
        #expect(TraceContext.spanID(of: a) != TraceContext.spanID(of: b))
        #expect(TraceContext.runSpanID("r1") != TraceContext.spanID(of: a))
        let trace = TraceContext.derivedTraceID(from: "source\nid-1")
        #expect(TraceContext.isTraceID(trace))
        // The same ids in every version: stored runs carry them, and a rebuild derives them again
        // (these are FNV-1a and SplitMix64 of the domain, a 0 byte and the text, computed apart).
        #expect(trace == "50b4418b296e778dd16019a487fef8e7")
        #expect(TraceContext.runSpanID("r1") == "3d3e5be84ca3950f")
        #expect(trace != TraceContext.derivedTraceID(from: "source\nid-2"))
        let parsed = TraceContext.parse(traceparent: TraceContext(traceID: trace).traceparent(spanID: TraceContext.spanID(of: a)))
        #expect(parsed?.traceID == trace, "derived ids make a valid traceparent")
    }

    @Test func theRunKeepsItsRequestsTraceAndADownstreamRunJoinsIt() {
        var h = EngineHarness([dag("up", tasks: [task("a")]), dag("down", tasks: [task("b")], triggerOn: ["up"])])
        let trace = TraceContext.parse(traceparent: Self.valid)!
        h.send(.runRequested(RunRequest(runID: "up#1", dagID: "up", logicalDate: t0, trace: trace)))
        #expect(h.run("up#1").trace == trace)
        h.send(.taskStarted(attempt("up#1", "a"), worker: "w"))
        h.send(.taskSucceeded(attempt("up#1", "a"), TaskSuccess()))
        let downstream = h.last.compactMap { if case .requestRun(let r) = $0 { r } else { nil } }
        #expect(downstream.map(\.trace?.traceID) == [trace.traceID])
        #expect(downstream.first?.trace?.parentSpanID == TraceContext.runSpanID("up#1"))
    }

    @Test func theOTLPEndpointComesFromTheFileOrTheEnvironment() throws {
        let config = try ConfigLoader.parseConfig("otlp_endpoint: http://127.0.0.1:4318\n", file: "lockstep.yaml")
        #expect(config.otlpTracesEndpoint == "http://127.0.0.1:4318/v1/traces")
        let base = try config.applyingTraceEnvironment(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"])
        #expect(base.otlpTracesEndpoint == "http://collector:4318/v1/traces")
        let full = try config.applyingTraceEnvironment([
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example/otlp",
        ])
        #expect(full.otlpTracesEndpoint == "https://traces.example/otlp", "the traces variable is used as given and wins")
        #expect(try LockstepConfig().applyingTraceEnvironment([:]).otlpTracesEndpoint == nil)
    }

    @Test func aBadOTLPEndpointIsRefusedNamingTheKeyAndTheFix() {
        do {
            _ = try ConfigLoader.parseConfig("otlp_endpoint: localhost:4318\n", file: "lockstep.yaml")
            Issue.record("accepted a URL without a scheme")
        } catch {
            #expect(error.keyPath == "otlp_endpoint")
            #expect(error.line == 1)
            #expect(error.fix.contains("http://localhost:4318"))
        }
        do {
            _ = try LockstepConfig().applyingTraceEnvironment(["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "ftp://collector/v1/traces"])
            Issue.record("accepted an ftp URL")
        } catch {
            #expect(error.keyPath == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            #expect(error.description.contains("ftp://collector"))
        }
    }
}
