import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LockstepCore

/// A fresh, private directory for one attempt under the data directory:
/// `<data>/attempts/<dag>/<run>/<task>/try-<n>`. Made empty at the start (a crashed earlier run of the
/// same try may have left files) and removed at the end unless the task asks to keep it.
public struct AttemptDirectory: Sendable {
    public let url: URL

    public init(_ context: OperatorContext) {
        url = context.dataDirectory.appendingPathComponent("attempts", isDirectory: true)
            .appendingPathComponent(Self.component(context.dagID), isDirectory: true)
            .appendingPathComponent(Self.component(context.runID), isDirectory: true)
            .appendingPathComponent(Self.component(context.taskID), isDirectory: true)
            .appendingPathComponent("try-\(context.tryNumber)", isDirectory: true)
    }

    public func create() throws(OperatorError) {
        let files = FileManager.default
        do {
            if files.fileExists(atPath: url.path) { try files.removeItem(at: url) }
            do {
                try files.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                // Another attempt of the same run may have just removed an empty parent (see `remove`): once more.
                try files.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
        } catch {
            throw OperatorError(.io, "cannot prepare the attempt directory \(url.path): \(error.localizedDescription)", retryable: true)
        }
    }

    /// Removes the directory, then its task, run and DAG directories if that left them empty, so finished
    /// attempts leave no trail of empty folders.
    public func remove() {
        try? FileManager.default.removeItem(at: url)
        var parent = url.deletingLastPathComponent()
        for _ in 0..<3 {
            guard rmdir(parent.path) == 0 else { return }
            parent = parent.deletingLastPathComponent()
        }
    }

    /// A run id or task id as one path component: `/` and other awkward bytes percent-encoded, and never
    /// `.` or `..`, so no id can climb out of the attempts tree.
    static func component(_ id: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
        allowed.insert(charactersIn: "-_.@+~=,")
        let encoded = id.addingPercentEncoding(withAllowedCharacters: allowed) ?? "id"
        if encoded.isEmpty || encoded.allSatisfy({ $0 == "." }) {
            return encoded.replacingOccurrences(of: ".", with: "%2E") + "%"
        }
        return encoded
    }
}
