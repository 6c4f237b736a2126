/// A problem in a configuration or DAG file: where it is and what would fix it.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    /// Dotted path to the offending key, e.g. `tasks[2].pool`.
    public var keyPath: String
    public var line: Int?
    public var message: String
    public var fix: String

    public init(file: String, keyPath: String, line: Int? = nil, message: String, fix: String) {
        self.file = file
        self.keyPath = keyPath
        self.line = line
        self.message = message
        self.fix = fix
    }

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        let key = keyPath.isEmpty ? "" : " at `\(keyPath)`"
        return "\(location)\(key): \(message). Fix: \(fix)"
    }
}
