import ArgumentParser
import Foundation
import LockstepCore
import LockstepServices

/// `lockstep stats`: what the seed's monitoring section asks to watch, from the state store.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "DAG success rates, task durations, queue times and error patterns over recent runs.")
    @OptionGroup var options: RuntimeOptions
    @Option(help: "Only this DAG.") var dag: String?
    @Option(help: "How many recent runs to look at.") var limit: Int = 500

    func run() async throws {
        let store = try await StateStore(options.storeLocation)
        let stats = RunStatistics(runs: try await store.runs(dagID: dag, limit: limit))
        await store.close()
        if stats.dags.isEmpty { print("no runs"); return }
        var rows = [["DAG", "RUNS", "SUCCEEDED", "FAILED", "ACTIVE", "SUCCESS RATE", "RUN p50", "RUN p95"]]
        for d in stats.dags {
            rows.append([d.dagID, "\(d.runs)", "\(d.succeeded)", "\(d.failed)", "\(d.active)",
                         d.successRate.map { String(format: "%.1f%%", $0 * 100) } ?? "-",
                         seconds(d.runDuration?.p50), seconds(d.runDuration?.p95)])
        }
        print(TextTable.render(rows))
        for d in stats.dags {
            print("\n\(d.dagID)")
            var taskRows = [["  TASK", "ATTEMPTS", "RETRIES", "DURATION p50", "p95", "QUEUE p50", "p95"]]
            for t in d.tasks {
                taskRows.append(["  " + t.taskID, "\(t.attempts)", "\(t.retries)", seconds(t.duration?.p50), seconds(t.duration?.p95),
                                 seconds(t.queueTime?.p50), seconds(t.queueTime?.p95)])
            }
            print(TextTable.render(taskRows))
        }
        if !stats.errors.isEmpty {
            print("\nerrors (most frequent first)")
            var errorRows = [["  COUNT", "DAG", "TASK", "CATEGORY", "LAST MESSAGE"]]
            for e in stats.errors.prefix(20) {
                errorRows.append(["  \(e.count)", e.dagID, e.taskID, e.category, String(e.lastMessage.prefix(100))])
            }
            print(TextTable.render(errorRows))
        }
    }

    private func seconds(_ value: Double?) -> String {
        guard let value else { return "-" }
        return value < 1 ? String(format: "%.0f ms", value * 1000) : String(format: "%.2f s", value)
    }
}
