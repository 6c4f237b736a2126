import Foundation

/// The seed's "key metrics to monitor", computed from runs: DAG success rate, task durations, queue
/// times (dispatched → started on a worker) and error patterns.
public struct RunStatistics: Sendable, Hashable {
    public struct Dag: Sendable, Hashable {
        public var dagID: String
        public var runs: Int
        public var succeeded: Int
        public var failed: Int
        public var cancelled: Int
        public var active: Int
        /// Of finished runs, the share that succeeded.
        public var successRate: Double?
        public var runDuration: Percentiles?
        public var tasks: [Task]
    }

    public struct Task: Sendable, Hashable {
        public var taskID: String
        public var attempts: Int
        public var retries: Int
        public var duration: Percentiles?
        public var queueTime: Percentiles?
    }

    public struct ErrorPattern: Sendable, Hashable {
        public var dagID: String
        public var taskID: String
        public var category: String
        public var count: Int
        public var lastMessage: String
    }

    public struct Percentiles: Sendable, Hashable {
        public var p50: Double
        public var p95: Double
        public var max: Double

        init?(_ samples: [Double]) {
            guard !samples.isEmpty else { return nil }
            let sorted = samples.sorted()
            func at(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))] }
            p50 = at(0.5)
            p95 = at(0.95)
            max = sorted[sorted.count - 1]
        }
    }

    public var dags: [Dag]
    /// Most frequent first.
    public var errors: [ErrorPattern]

    public init(runs: [DagRun]) {
        var dags: [Dag] = []
        for (dagID, list) in Dictionary(grouping: runs, by: \.dagID).sorted(by: { $0.key < $1.key }) {
            let finished = list.filter { $0.state.isTerminal && $0.state != .cancelled }
            let succeeded = list.filter { $0.state == .succeeded }.count
            let durations = list.compactMap { run in run.startedAt.flatMap { s in run.finishedAt.map { $0.timeIntervalSince(s) } } }
            var tasks: [Task] = []
            for taskID in Set(list.flatMap(\.tasks.keys)).sorted() {
                let attempts = list.compactMap { $0.tasks[taskID] }.flatMap(\.attempts)
                guard !attempts.isEmpty else { continue }
                tasks.append(Task(
                    taskID: taskID, attempts: attempts.count, retries: attempts.filter { $0.tryNumber > 1 }.count,
                    duration: Percentiles(attempts.compactMap { $0.duration?.timeInterval }),
                    queueTime: Percentiles(attempts.compactMap { a in a.startedAt.map { $0.timeIntervalSince(a.scheduledAt) } })))
            }
            dags.append(Dag(
                dagID: dagID, runs: list.count, succeeded: succeeded, failed: list.filter { $0.state == .failed }.count,
                cancelled: list.filter { $0.state == .cancelled }.count, active: list.filter { !$0.state.isTerminal }.count,
                successRate: finished.isEmpty ? nil : Double(succeeded) / Double(finished.count),
                runDuration: Percentiles(durations), tasks: tasks))
        }
        self.dags = dags
        var errors: [String: ErrorPattern] = [:]
        for run in runs.sorted(by: { $0.sequence < $1.sequence }) {
            for (taskID, task) in run.tasks {
                for attempt in task.attempts {
                    guard let error = attempt.error else { continue }
                    let key = "\(run.dagID)/\(taskID)/\(error.category)"
                    errors[key, default: ErrorPattern(dagID: run.dagID, taskID: taskID, category: error.category, count: 0, lastMessage: "")].count += 1
                    errors[key]!.lastMessage = error.message
                }
            }
        }
        // Most frequent first; ties by DAG, task and category, so the order is stable.
        self.errors = errors.values.sorted {
            ($0.count, $1.dagID, $1.taskID, $1.category) > ($1.count, $0.dagID, $0.taskID, $0.category)
        }
    }
}
