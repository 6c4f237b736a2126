import Foundation
import LockstepCore
import Logging

/// How the components of this process are doing right now: what each is (active, standing by,
/// recovering), what it waits for (the state store, the broker) and the attempts it holds. Read by a
/// health endpoint in this process, and written to the store every few seconds (`HeartbeatReporter`)
/// for `lockstep runs` and health checks in other processes.
///
/// Logs once per change of state — a component starts waiting for a dependency, or the dependency
/// answers again — never once per try: an outage of a minute is two lines per component.
public final class ComponentHealth: @unchecked Sendable {
    // @unchecked: `entries` and `nextToken` are only touched with `lock` held; `storeHealth` is
    // immutable and itself Sendable.
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private var nextToken = 0
    /// The state store's own view of its connection: while it reconnects, everyone using it waits,
    /// even before an operation has failed (`PostgresDatabase` retries underneath for up to 30 s).
    private let storeHealth: @Sendable () -> StoreHealth

    public init(storeHealth: @escaping @Sendable () -> StoreHealth = { .connected }) {
        self.storeHealth = storeHealth
    }

    /// What a component is doing when nothing holds it up.
    public enum Phase: String, Sendable, Hashable {
        case starting, running, standby, recovering, stopped
    }

    /// One dependency a component is waiting for.
    public struct Wait: Sendable, Hashable {
        public var dependency: Dependency
        public var since: Date
        /// What it was doing and the last error, without secrets.
        public var detail: String
    }

    /// One component of this process, as a health check reports it.
    public struct Status: Sendable, Hashable {
        public var component: String
        public var phase: Phase
        /// e.g. "active", "another coordinator holds the lease".
        public var phaseDetail: String?
        public var phaseSince: Date
        public var waits: [Wait]
        /// Attempts (`run/task#try`) the component is running.
        public var holding: [String]

        public var isWaiting: Bool { !waits.isEmpty }

        /// `waiting` while anything is awaited, else the phase.
        public var state: String { isWaiting ? "waiting" : phase.rawValue }

        /// Since when `state` holds.
        public var since: Date { waits.map(\.since).min() ?? phaseSince }

        /// One line: "waiting for the broker since …: publishing …", or the phase and its detail.
        public var summary: String {
            if !waits.isEmpty {
                return waits.map { "waiting for the \($0.dependency) since \(ISO8601.format($0.since)): \($0.detail)" }.joined(separator: "; ")
            }
            return phaseDetail.map { "\(phase.rawValue): \($0)" } ?? phase.rawValue
        }
    }

    /// Identifies one wait begun by `beginWait`, to end exactly that one.
    public struct WaitToken: Sendable, Hashable {
        let component: String
        let dependency: Dependency
        let id: Int
    }

    private struct Entry {
        var phase = Phase.starting
        var phaseDetail: String?
        var phaseSince = Date()
        /// Operations waiting per dependency, by token: the first begins the outage, the last ends it.
        var waits: [Dependency: [Int: Wait]] = [:]
        var holding: Set<String> = []
    }

    // MARK: Reporting

    public func set(_ component: String, _ phase: Phase, detail: String? = nil) {
        lock.withLock {
            var entry = entries[component] ?? Entry()
            if entry.phase != phase || entry.phaseDetail != detail { entry.phaseSince = Date() }
            entry.phase = phase
            entry.phaseDetail = detail
            entries[component] = entry
        }
    }

    /// An operation of `component` found `dependency` away. The first such operation logs a warning.
    public func beginWait(_ component: String, on dependency: Dependency, detail: String, logger: Logger) -> WaitToken {
        let (token, first) = lock.withLock { () -> (WaitToken, Bool) in
            nextToken += 1
            var entry = entries[component] ?? Entry()
            let first = entry.waits[dependency, default: [:]].isEmpty
            entry.waits[dependency, default: [:]][nextToken] = Wait(dependency: dependency, since: Date(), detail: detail)
            entries[component] = entry
            return (WaitToken(component: component, dependency: dependency, id: nextToken), first)
        }
        if first {
            logger.warning("\(component) waiting for the \(dependency): \(detail)", metadata: ["component": .string(component)])
        }
        return token
    }

    /// The waiting operation tried again and failed again: keeps its start, updates what it says.
    public func updateWait(_ token: WaitToken, detail: String) {
        lock.withLock {
            entries[token.component]?.waits[token.dependency]?[token.id]?.detail = detail
        }
    }

    /// The operation is no longer waiting: it succeeded (`recovered`), or it gave up (shutdown, an
    /// error retrying cannot fix). The last one to end a recovered outage logs it.
    public func endWait(_ token: WaitToken, recovered: Bool, logger: Logger) {
        let outage: Date? = lock.withLock {
            guard let wait = entries[token.component]?.waits[token.dependency]?.removeValue(forKey: token.id) else { return nil }
            let others = entries[token.component]?.waits[token.dependency] ?? [:]
            guard others.isEmpty else { return nil }
            entries[token.component]?.waits[token.dependency] = nil
            return recovered ? wait.since : nil
        }
        if let outage {
            let seconds = String(format: "%.1f", Date().timeIntervalSince(outage))
            logger.notice("\(token.component): the \(token.dependency) answers again after \(seconds)s", metadata: ["component": .string(token.component)])
        }
    }

    /// `component` started or finished running an attempt.
    public func hold(_ component: String, _ attempt: AttemptID) {
        lock.withLock { _ = entries[component, default: Entry()].holding.insert(attempt.description) }
    }

    public func release(_ component: String, _ attempt: AttemptID) {
        lock.withLock { _ = entries[component]?.holding.remove(attempt.description) }
    }

    // MARK: Reading

    /// Every component of this process, by name. A store that is reconnecting shows as a wait of
    /// every component (they all use it), from when the connection broke.
    public func snapshot() -> [Status] {
        let store = storeHealth()
        return lock.withLock {
            entries.keys.sorted().map { name in
                let entry = entries[name]!
                var waits = entry.waits.keys.sorted { $0.rawValue < $1.rawValue }.compactMap { dependency -> Wait? in
                    guard let all = entry.waits[dependency], let first = all.values.min(by: { $0.since < $1.since }) else { return nil }
                    let latest = all.values.max { $0.since < $1.since } ?? first
                    return Wait(dependency: dependency, since: first.since, detail: latest.detail)
                }
                if case .reconnecting(let since, let lastError) = store, entry.phase != .stopped {
                    waits.removeAll { $0.dependency == .stateStore }
                    waits.insert(Wait(dependency: .stateStore, since: since, detail: "reconnecting: \(lastError)"), at: 0)
                }
                return Status(component: name, phase: entry.phase, phaseDetail: entry.phaseDetail, phaseSince: entry.phaseSince,
                              waits: waits, holding: entry.holding.sorted())
            }
        }
    }

    public func status(of component: String) -> Status? {
        snapshot().first { $0.component == component }
    }
}
