import Foundation
import LockstepTestSupport

/// The configuration the system under test runs with: a temporary copy of the repository's
/// `config/lockstep.yaml` and `config/dags/` (the seed's two pipelines, unchanged) plus test DAGs.
///
/// The test DAGs are written here rather than kept as fixture files, so the one derived from the real
/// training pipeline stays in step with it:
/// - `system_training_fast_retry`: `recommender_training_pipeline` with `retry_delay: 1s` instead of
///   5 m (and no schedule), so "FastAPI down → retries per policy → the run fails" finishes in seconds.
///   Same tasks, operators, params, retries (2) and timeouts.
/// - `system_sleep`: `first` (noop) → `nap` (`sleep`, 3 s) → `last` (noop), no retries. The real
///   pipelines' tasks take milliseconds; `nap` stays in progress long enough to kill a component
///   while it runs.
/// - `system_pooled_sleep`: one `ml_training_pool` task that sleeps 1 s, up to 3 runs at once, so the
///   pool's 2 slots are contended when its runs are triggered together with both pipelines.
/// - `system_noop`: two no-op tasks: a run that shows every component came up, and nothing else.
/// - `system_chatty`: `talk`, a `command` that prints three numbered lines naming its shell's pid and
///   then waits until `<reports>/release-<run id>` exists (the test creates it): a worker can be
///   killed while it runs, after its lines were stored.
enum SystemDags {
    static let fastRetryTraining = "system_training_fast_retry"
    static let sleep = "system_sleep"
    static let pooledSleep = "system_pooled_sleep"
    static let noop = "system_noop"
    static let chatty = "system_chatty"
    static let training = "recommender_training_pipeline"
    static let integration = "noblestride_integration_pipeline"
    /// The seed's pipelines need the Noblestride pack; the test DAGs' `sleep` lives in the testing pack.
    static let environment = ["LOCKSTEP_PACKS": "noblestride,testing"]

    static let sleepDag = """
        # System test DAG: a task that stays in progress long enough to kill a component during it.
        id: system_sleep
        description: first, a 3 s nap, last
        timezone: UTC
        catchup: false
        max_active_runs: 4
        default_args: {owner: system-tests, retries: 0, retry_delay: 1s}
        tasks:
          - id: first
            operator: noop
          - id: nap
            operator: sleep
            upstream: [first]
            params: {seconds: 3}
          - id: last
            operator: noop
            upstream: [nap]

        """

    static let pooledSleepDag = """
        # System test DAG: a pooled task that holds an ml_training_pool slot for a second.
        id: system_pooled_sleep
        description: one pooled 1 s task
        timezone: UTC
        catchup: false
        max_active_runs: 3
        default_args: {owner: system-tests, retries: 0, retry_delay: 1s}
        tasks:
          - id: work
            operator: sleep
            pool: ml_training_pool
            params: {seconds: 1}

        """

    static let noopDag = """
        # System test DAG: two no-op tasks, for a run that needs nothing but the components themselves.
        id: system_noop
        description: start, then finish
        timezone: UTC
        catchup: false
        max_active_runs: 16
        default_args: {owner: system-tests, retries: 0, retry_delay: 1s}
        tasks:
          - id: start
            operator: noop
          - id: finish
            operator: noop
            upstream: [start]

        """

    static let chattyDag = """
        # System test DAG: a command that prints numbered lines, then waits for the test to release it.
        id: system_chatty
        description: three numbered lines, then a wait for the release file
        timezone: UTC
        catchup: false
        max_active_runs: 4
        default_args: {owner: system-tests, retries: 0, retry_delay: 1s}
        tasks:
          - id: talk
            operator: command
            params:
              shell: true
              argv: 'for i in 1 2 3; do echo "line $i of execution $$"; done; while [ ! -e "$RELEASE" ]; do sleep 0.1; done; echo "done by $$"'
              env: {RELEASE: "{{ var.REPORTS_DIR }}/release-{{ run.id }}"}

        """

    /// Writes `config/lockstep.yaml` and `config/dags/*.yaml` under `root`; returns (config file, DAG dir).
    static func write(into root: URL) throws -> (URL, URL) {
        let source = TestPaths.packageRoot.appendingPathComponent("config")
        let config = root.appendingPathComponent("config")
        let dags = config.appendingPathComponent("dags")
        try FileManager.default.createDirectory(at: dags, withIntermediateDirectories: true)
        let configFile = config.appendingPathComponent("lockstep.yaml")
        try FileManager.default.copyItem(at: source.appendingPathComponent("lockstep.yaml"), to: configFile)
        for name in ["\(training).yaml", "\(integration).yaml"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent("dags/\(name)"), to: dags.appendingPathComponent(name))
        }
        let trainingText = try String(contentsOf: source.appendingPathComponent("dags/\(training).yaml"), encoding: .utf8)
        try Data(fastRetry(from: trainingText).utf8).write(to: dags.appendingPathComponent("\(fastRetryTraining).yaml"))
        try Data(sleepDag.utf8).write(to: dags.appendingPathComponent("\(sleep).yaml"))
        try Data(pooledSleepDag.utf8).write(to: dags.appendingPathComponent("\(pooledSleep).yaml"))
        try Data(noopDag.utf8).write(to: dags.appendingPathComponent("\(noop).yaml"))
        try Data(chattyDag.utf8).write(to: dags.appendingPathComponent("\(chatty).yaml"))
        return (configFile, dags)
    }

    /// The training DAG with another id, no schedule and a 1 s retry delay.
    static func fastRetry(from text: String) throws -> String {
        var lines: [String] = []
        var replaced = (id: false, delay: false)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("id: ") {
                lines.append("id: \(fastRetryTraining)")
                replaced.id = true
            } else if line.hasPrefix("schedule:") {
                continue
            } else if line.trimmingCharacters(in: .whitespaces).hasPrefix("retry_delay:") {
                lines.append(line.prefix { $0 == " " } + "retry_delay: 1s       # system test copy: 5m in the real DAG")
                replaced.delay = true
            } else {
                lines.append(line)
            }
        }
        guard replaced.id, replaced.delay else {
            throw TestSupportError("config/dags/\(training).yaml no longer has a top-level `id:` and a `retry_delay:` to replace")
        }
        return lines.joined(separator: "\n")
    }
}
