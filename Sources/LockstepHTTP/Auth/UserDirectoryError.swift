/// A user-directory problem a person can fix (bad role, duplicate name), or a store failure with the
/// statement's context.
public struct UserDirectoryError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
