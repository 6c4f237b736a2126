import Foundation

/// Checks a parsed DAG against itself and the deployment: task ids, upstream edges, cycles,
/// operators, pools, schedule and time zone, cross-DAG triggers.
public enum DagValidator {
    public static func validate(
        _ dag: DagSpec, file: String, config: LockstepConfig, operators: Set<String>, knownDags: Set<String>? = nil,
        unloadedPacks: [String: String] = [:]
    ) throws(ConfigError) {
        func fail(_ key: String, _ message: String, _ fix: String) -> ConfigError {
            ConfigError(file: file, keyPath: key, message: message, fix: fix)
        }
        if dag.id.isEmpty || dag.id.contains(where: { !($0.isLetter || $0.isNumber || "_-.".contains($0)) }) {
            throw fail("id", "DAG id `\(dag.id)` has characters other than letters, digits, `_`, `-` and `.`", "rename it, e.g. `my_pipeline`")
        }
        var seen: [String: Int] = [:]
        for (i, task) in dag.tasks.enumerated() {
            if let first = seen[task.id] {
                throw fail("tasks[\(i)].id", "duplicate task id `\(task.id)` (also tasks[\(first)])", "give every task its own id")
            }
            seen[task.id] = i
        }
        for (i, task) in dag.tasks.enumerated() {
            if !operators.isEmpty && !operators.contains(task.operator), let pack = unloadedPacks[task.operator] {
                throw fail(
                    "tasks[\(i)].operator", "operator `\(task.operator)` lives in the `\(pack)` pack, which this deployment does not load",
                    "add `\(pack)` to `packs:` in lockstep.yaml (or LOCKSTEP_PACKS), or use one of \(operators.sorted().joined(separator: ", "))")
            }
            if !operators.isEmpty && !operators.contains(task.operator) {
                throw fail(
                    "tasks[\(i)].operator", "unknown operator `\(task.operator)`",
                    "use one of \(operators.sorted().joined(separator: ", "))")
            }
            for up in task.upstream where seen[up] == nil {
                throw fail("tasks[\(i)].upstream", "task `\(task.id)` depends on unknown task `\(up)`", "name a task declared in this DAG")
            }
            if task.upstream.contains(task.id) {
                throw fail("tasks[\(i)].upstream", "task `\(task.id)` depends on itself", "remove `\(task.id)` from its own upstream")
            }
            if let pool = task.pool, config.pools[pool] == nil {
                throw fail(
                    "tasks[\(i)].pool", "unknown pool `\(pool)`",
                    "declare it under `pools:` in lockstep.yaml (known: \(config.pools.keys.sorted().joined(separator: ", ")))")
            }
            if let max = task.retry.maxDelay, max < task.retry.delay {
                throw fail("tasks[\(i)].max_retry_delay", "max_retry_delay is shorter than retry_delay", "raise max_retry_delay or lower retry_delay")
            }
            if let t = task.timeout, t <= .zero {
                throw fail("tasks[\(i)].timeout", "timeout must be positive", "write a duration such as 30s")
            }
        }
        if let cycle = findCycle(dag) {
            let i = dag.tasks.firstIndex { $0.id == cycle[0] } ?? 0
            throw fail("tasks[\(i)].upstream", "the tasks form a cycle: \(cycle.joined(separator: " → "))", "remove one of these upstream edges")
        }
        guard let zone = TimeZone(identifier: dag.timezone) else {
            throw fail("timezone", "unknown time zone `\(dag.timezone)`", "use an IANA name such as UTC or Europe/Berlin")
        }
        if let schedule = dag.schedule {
            do { _ = try CronSchedule(schedule, timeZone: zone) } catch {
                throw fail("schedule", "`\(schedule)` is not a valid schedule: \(error.reason)", "write five cron fields (minute hour day month weekday), e.g. `0 2 * * *`, or a macro such as @daily")
            }
        }
        for name in dag.triggerOn {
            if name == dag.id { throw fail("trigger_on", "a DAG cannot trigger itself", "remove `\(name)`") }
            if let knownDags, !knownDags.contains(name) {
                throw fail("trigger_on", "unknown DAG `\(name)`", "name a DAG in the same directory (known: \(knownDags.sorted().joined(separator: ", ")))")
            }
        }
    }

    /// A cycle among upstream edges, as task ids with the first repeated at the end, or nil.
    static func findCycle(_ dag: DagSpec) -> [String]? {
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        var stack: [String] = []
        func visit(_ id: String) -> [String]? {
            if state[id] == 2 { return nil }
            if state[id] == 1 {
                let start = stack.firstIndex(of: id) ?? 0
                return Array(stack[start...]) + [id]
            }
            state[id] = 1
            stack.append(id)
            for up in dag.task(id)?.upstream ?? [] {
                if let cycle = visit(up) { return cycle }
            }
            stack.removeLast()
            state[id] = 2
            return nil
        }
        for task in dag.tasks {
            if let cycle = visit(task.id) { return cycle.reversed() }
        }
        return nil
    }
}
