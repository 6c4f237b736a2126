import Foundation

/// Writes a component's `ComponentHealth` status into the store every `interval`, so processes that
/// are not it can see whether it is active, waiting for something, or gone (its heartbeat stale).
/// On real time, not the runtime's clock: a heartbeat tells people about the present, and decides
/// nothing a test's clock should drive.
enum HeartbeatReporter {
    static let interval = Duration.seconds(2)
    /// Rows of processes not heard from for this long are removed when a component starts.
    static let forgetAfter: TimeInterval = 24 * 3600
}

extension Runtime {
    /// Runs `body` (a component's whole run) while its heartbeat is written; marks it stopped after.
    func withHeartbeat<T: Sendable>(
        _ component: String, kind: ComponentHeartbeat.Kind, queue: String? = nil, _ body: () async throws -> T
    ) async throws -> T {
        health.set(component, .starting)
        let writer = Task { [self] in
            try? await store.pruneHeartbeats(before: Date().addingTimeInterval(-HeartbeatReporter.forgetAfter))
            while !Task.isCancelled {
                await writeHeartbeat(component, kind: kind, queue: queue)
                try? await Task.sleep(for: HeartbeatReporter.interval)
            }
        }
        do {
            let value = try await body()
            writer.cancel()
            await stopped(component, kind: kind, queue: queue, detail: nil)
            return value
        } catch {
            writer.cancel()
            await stopped(component, kind: kind, queue: queue, detail: error is CancellationError ? nil : "\(error)")
            throw error
        }
    }

    private func stopped(_ component: String, kind: ComponentHeartbeat.Kind, queue: String?, detail: String?) async {
        health.set(component, .stopped, detail: detail)
        // A last word only if the store answers now: a process shutting down must not wait out an outage.
        guard store.health.isConnected else { return }
        await writeHeartbeat(component, kind: kind, queue: queue)
    }

    private func writeHeartbeat(_ component: String, kind: ComponentHeartbeat.Kind, queue: String?) async {
        guard let status = health.status(of: component) else { return }
        let beat = ComponentHeartbeat(
            component: component, kind: kind, queue: queue, instance: instance, state: status.state, detail: status.summary,
            holding: status.holding, since: status.since, heartbeat: Date())
        // A store that is away says so in its own health and log; the next beat tries again.
        try? await store.recordHeartbeat(beat)
    }
}
