import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One request raced against its deadline timer and the calling task's cancellation; the first to
/// finish decides, and the loser's callback is ignored.
final class Exchange: @unchecked Sendable {
    enum Outcome: Sendable {
        case response(Int, Data)
        case timedOut
        case failed(any Error)
        case notHTTP
    }

    private let lock = NSLock()
    private var continuation: CheckedContinuation<Outcome, Never>?
    private var task: URLSessionDataTask?
    /// An outcome that arrived before `start` (the caller was already cancelled).
    private var early: Outcome?

    static func perform(_ request: URLRequest, in session: URLSession, timeout: Double) async -> Outcome {
        let exchange = Exchange()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                exchange.start(request, session: session, timeout: timeout, continuation: continuation)
            }
        } onCancel: {
            exchange.finish(.failed(URLError(.cancelled)))
        }
    }

    private func start(_ request: URLRequest, session: URLSession, timeout: Double, continuation: CheckedContinuation<Outcome, Never>) {
        let task = session.dataTask(with: request) { [self] data, response, error in
            if let error { finish(.failed(error)); return }
            guard let http = response as? HTTPURLResponse else { finish(.notHTTP); return }
            finish(.response(http.statusCode, data ?? Data()))
        }
        lock.lock()
        if let early {
            lock.unlock()
            continuation.resume(returning: early)
            return
        }
        self.continuation = continuation
        self.task = task
        lock.unlock()
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [self] in finish(.timedOut) }
        task.resume()
    }

    fileprivate func finish(_ outcome: Outcome) {
        lock.lock()
        let continuation = self.continuation
        let task = self.task
        self.continuation = nil
        self.task = nil
        if continuation == nil && task == nil && early == nil { early = outcome }
        lock.unlock()
        guard let continuation else { return }
        if case .response = outcome {} else { task?.cancel() }
        continuation.resume(returning: outcome)
    }
}
