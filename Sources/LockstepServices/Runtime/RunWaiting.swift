import Foundation
import LockstepCore

/// Why an unfinished run is not moving, told from the components' heartbeats: its coordinator or a
/// worker holding one of its attempts is waiting for the state store or the broker, is recovering,
/// or has not been heard from. Nil when nothing the heartbeats show holds it up (it may simply be
/// running). What `lockstep runs` prints under a run, so a stalled run says why instead of looking
/// merely slow.
public enum RunWaiting {
    /// A component whose last heartbeat is older than this is taken as not running or cut off.
    public static let staleAfter: TimeInterval = 15

    public static func reasons(for run: DagRun, heartbeats: [ComponentHeartbeat], now: Date) -> [String] {
        guard !run.state.isTerminal else { return [] }
        var reasons: [String] = []
        if let coordinator = coordinatorReason(heartbeats.filter { $0.kind == .coordinator }, now: now) { reasons.append(coordinator) }
        let workers = heartbeats.filter { $0.kind == .worker }
        for task in run.tasks.values.sorted(by: { $0.taskID < $1.taskID }) where task.state.isInFlight {
            let attempt = AttemptID(runID: run.id, taskID: task.taskID, tryNumber: task.tryNumber).description
            // The newest heartbeat that names the attempt: an older one is of a worker that let go of it.
            guard let holder = workers.filter({ $0.holding.contains(attempt) }).max(by: { $0.heartbeat < $1.heartbeat }) else { continue }
            if isStale(holder, now: now) {
                reasons.append("waiting: task \(task.taskID): its \(holder.component) \(holder.instance) has not reported for \(age(holder, now)) "
                               + "(last: \(holder.detail)); it may be reconnecting to the state store, or gone, in which case another worker takes the attempt over")
            } else if holder.state == "waiting" {
                reasons.append("waiting: task \(task.taskID): \(holder.component) \(holder.instance) is \(holder.detail)")
            }
        }
        return reasons
    }

    private static func coordinatorReason(_ coordinators: [ComponentHeartbeat], now: Date) -> String? {
        let live = coordinators.filter { !isStale($0, now: now) && $0.state != "stopped" }
        if let active = live.first(where: { $0.state != "standby" }) {
            switch active.state {
            case "waiting": return "waiting: coordinator \(active.instance) is \(active.detail)"
            case "recovering", "starting": return "waiting: coordinator \(active.instance) is \(active.detail)"
            default: return nil
            }
        }
        if !live.isEmpty {
            return "waiting: no active coordinator; \(live.count) standing by for the lease (the active one's session ended: it takes over once the lease is free)"
        }
        guard let last = coordinators.max(by: { $0.heartbeat < $1.heartbeat }) else {
            return "waiting: no coordinator has reported to the state store; start `lockstep coordinator`"
        }
        if last.state == "stopped" {
            return "waiting: the coordinator \(last.instance) stopped at \(ISO8601.format(last.heartbeat))\(last.detail == "stopped" ? "" : " (\(last.detail))"); start `lockstep coordinator`"
        }
        return "waiting: coordinator \(last.instance) has not reported for \(age(last, now)) (last: \(last.detail)); "
            + "it may be reconnecting to the state store, or gone"
    }

    private static func isStale(_ beat: ComponentHeartbeat, now: Date) -> Bool {
        now.timeIntervalSince(beat.heartbeat) > staleAfter
    }

    private static func age(_ beat: ComponentHeartbeat, _ now: Date) -> String {
        "\(Int(now.timeIntervalSince(beat.heartbeat).rounded()))s"
    }
}
