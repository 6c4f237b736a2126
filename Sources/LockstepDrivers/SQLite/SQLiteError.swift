/// SQLite refused an operation on a file; `code` is its extended result code (5 = busy, 13 = full, …).
public struct SQLiteError: Error, Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var code: Int32
    public var message: String

    public init(path: String, operation: String, code: Int32, message: String) {
        self.path = path
        self.operation = operation
        self.code = code
        self.message = message
    }

    /// Another connection holds the lock longer than the busy timeout: worth trying again.
    public var isBusy: Bool { code & 0xff == 5 || code & 0xff == 6 }

    public var description: String {
        "\(path): \(operation) failed with SQLite code \(code): \(message). "
            + "Check the disk (space, permissions) and that no other program holds the file locked."
    }
}
