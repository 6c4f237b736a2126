import Foundation
import LockstepCore
import LockstepServices
import Logging

/// What every route handler reads: the runtime (bus, store, DAGs, config), the users, the run read
/// model, the JSON codec and what the bus observer has seen.
struct APIEnvironment: Sendable {
    let runtime: Runtime
    let users: UserDirectory
    let runs: RunReader
    let json: JSONIO
    let configuration: APIServer.Configuration
    let observer: BusObserver?
    /// The process environment, for where a variable or connection value comes from.
    let environment: [String: String]
    /// The config file as written, before environment overrides (nil: unknown).
    let fileConfig: LockstepConfig?
    let stopping: StopFlag

    var clock: @Sendable () -> Date { let clock = runtime.clock; return { clock.now } }
    var logger: Logger { runtime.logger }

    /// The one ops path, acting as the caller: every write is an event on `lockstep.ops` naming them.
    func ops(_ caller: Caller) -> OpsActions { OpsActions(runtime: runtime, actor: caller.username) }

    func dag(_ id: String, field: String = "dag_id") throws -> DagSpec {
        guard let dag = runtime.dagsByID[id] else {
            throw Problem.notFound("unknown-dag", "no DAG `\(id)`; GET /api/v1/dags lists them (\(runtime.dags.map(\.id).sorted().joined(separator: ", ")))", field: field)
        }
        return dag
    }

    /// Paused as the coordinator will treat it: paused in the store, or declared paused in its file.
    func pausedDags() async throws -> Set<String> {
        var paused = try await runtime.store.pausedDags()
        for dag in runtime.dags where dag.paused { paused.insert(dag.id) }
        return paused
    }
    /// Slots held and tasks waiting per pool, from the unfinished runs: a task in flight holds a slot
    /// of its pool, a queued task waits for one.
    func poolUsage() async throws -> [String: (used: Int, queued: Int)] {
        var usage: [String: (used: Int, queued: Int)] = [:]
        var before: Int64?
        repeat {
            let (active, next) = try await runs.runs(.init(states: [.queued, .running]), before: before, limit: 500)
            for run in active {
                guard let dag = runtime.dagsByID[run.dagID] else { continue }
                for task in run.tasks.values {
                    guard let pool = dag.task(task.taskID)?.pool else { continue }
                    if task.state.isInFlight { usage[pool, default: (0, 0)].used += 1 }
                    if task.state == .queued { usage[pool, default: (0, 0)].queued += 1 }
                }
            }
            before = next
        } while before != nil
        return usage
    }
}
