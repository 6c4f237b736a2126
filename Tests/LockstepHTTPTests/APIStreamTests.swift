import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LockstepHTTP
import Synchronization
import Testing

/// `GET /api/v1/events/stream`: run and task lifecycle events as server-sent events, as a page of the
/// web UI follows them (one stream, not a request per run).
@Suite(.serialized) struct APIStreamTests {
    @Test func runEventsArriveOnTheStreamAsTheyHappen() async throws {
        let system = try await APITestSystem()
        let client = APIClient(base: system.base)
        try await client.logIn("admin", system.adminPassword)
        let reader = StreamReader()
        var request = URLRequest(url: system.base.appendingPathComponent("/api/v1/events/stream"))
        request.url = URL(string: "/api/v1/events/stream?dag_id=api_pipeline", relativeTo: system.base)
        request.setValue(client.defaultHeaders.withLock { $0["Authorization"] }, forHTTPHeaderField: "Authorization")
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 30
        configuration.timeoutIntervalForResource = 60
        let session = URLSession(configuration: configuration, delegate: reader, delegateQueue: nil)
        let task = session.dataTask(with: request)
        task.resume()
        try await system.eventually("the stream to open") { reader.text.contains(": lockstep run events") }

        _ = try await client.send("POST", "/api/v1/dags/other_pipeline/runs", json: ["idempotency_key": "s0"])
        _ = try await client.send("POST", "/api/v1/dags/api_pipeline/runs", json: ["idempotency_key": "s1"])
        try await system.eventually("run.succeeded on the stream") { reader.text.contains("event: lockstep.run.succeeded") }
        task.cancel()
        session.invalidateAndCancel()
        let text = reader.text
        #expect(reader.contentType == "text/event-stream")
        #expect(text.contains("id: run.queued/api_pipeline~s1/-/0"))
        #expect(text.contains("event: lockstep.task.succeeded"))
        #expect(!text.contains("other_pipeline"), "the dag_id filter holds")
        await system.close()
    }
}

/// Collects a streamed body as it arrives.
final class StreamReader: NSObject, URLSessionDataDelegate, Sendable {
    private let received = Mutex<(Data, String?)>((Data(), nil))
    var text: String { received.withLock { String(decoding: $0.0, as: UTF8.self) } }
    var contentType: String? { received.withLock { $0.1 } }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        let type = (response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Type")
        received.withLock { $0.1 = type }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        received.withLock { $0.0.append(data) }
    }
}
