import LockstepCore
import Testing

/// `queue:` on a task in a DAG file: which workers run it.
@Suite struct TaskQueueSpecTests {
    func dag(taskExtra: String) throws(ConfigError) -> DagSpec {
        let yaml = """
            id: q
            tasks:
              - id: announce
                operator: noop
            \(taskExtra.isEmpty ? "" : "    " + taskExtra)
            """
        return try ConfigLoader.parseDag(yaml, file: "dags/q.yaml", config: .empty, operators: ["noop"])
    }

    @Test func aTaskNamesItsQueueOrLeavesItToItsOperator() throws {
        #expect(try dag(taskExtra: "queue: notifications").tasks[0].queue == .notifications)
        #expect(try dag(taskExtra: "queue: tasks").tasks[0].queue == .tasks)
        #expect(try dag(taskExtra: "").tasks[0].queue == nil)
    }

    @Test func anUnknownQueueIsRefusedNamingTheKeyAndTheChoices() {
        #expect {
            try dag(taskExtra: "queue: gpu")
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            return error.file == "dags/q.yaml" && error.keyPath == "tasks[0].queue" && error.message.contains("unknown queue `gpu`")
                && error.fix.contains("tasks, notifications")
        }
    }
}
