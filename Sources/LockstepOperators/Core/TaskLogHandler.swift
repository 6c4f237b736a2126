import Logging

/// Forwards an operator's swift-log lines (`context.taskLogger`) into its attempt's log, so operators
/// written against `Logger` show up in `lockstep logs` without a second logging call.
struct TaskLogHandler: LogHandler {
    let log: TaskLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    /// The attempt's identity is the log's own key; repeating it on every line says nothing.
    private static let identityKeys: Set<String> = ["dag", "run", "task", "try"]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var text = switch event.level {
        case .trace, .debug: "debug: \(event.message)"
        case .info, .notice: "\(event.message)"
        case .warning: "warning: \(event.message)"
        case .error, .critical: "error: \(event.message)"
        }
        let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let shown = all.filter { !Self.identityKeys.contains($0.key) }.sorted { $0.key < $1.key }
        if !shown.isEmpty { text += " " + shown.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }
        log.write(text, stream: .operator)
    }
}
