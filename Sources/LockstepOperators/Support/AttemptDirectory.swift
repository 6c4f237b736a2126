import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LockstepCore

/// A fresh, private directory for one attempt under the data directory:
/// `<data>/attempts/<dag>,<run>,<task>,try-<n>` (ids percent-encoded). Made empty at the start (a crashed
/// earlier run of the same try may have left files) and removed at the end unless the task asks to keep it.
///
/// One level on purpose: nested per-run folders would each need an `rmdir` once empty, which costs about
/// 3 ms apiece on the ext4 disks measured here, and racing a concurrent attempt's `mkdir -p` for them.
public struct AttemptDirectory: Sendable {
    public let url: URL
    private let attempts: URL

    /// Longer names are shortened with a hash of the whole, well inside NAME_MAX (255 bytes).
    static let maxNameBytes = 200

    public init(_ context: OperatorContext) {
        attempts = context.dataDirectory.appendingPathComponent("attempts", isDirectory: true)
        url = attempts.appendingPathComponent(Self.name(dag: context.dagID, run: context.runID, task: context.taskID,
                                                        try: context.tryNumber), isDirectory: true)
    }

    static func name(dag: String, run: String, task: String, try tryNumber: Int) -> String {
        let ids = [dag, run, task].map(component).joined(separator: ",")
        let suffix = ",try-\(tryNumber)"
        guard ids.utf8.count + suffix.utf8.count > maxNameBytes else { return ids + suffix }
        // FNV-1a: stable across processes (Swift's Hasher is seeded per process).
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in ids.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let kept = String(decoding: ids.utf8.prefix(maxNameBytes - 40), as: UTF8.self)
        return kept + "," + String(hash, radix: 16) + suffix
    }

    public func create() throws(OperatorError) {
        let files = FileManager.default
        do {
            Self.removeTree(url.path)
            try files.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw OperatorError(.io, "cannot prepare the attempt directory \(url.path): \(error.localizedDescription)", retryable: true)
        }
    }

    /// Removes the directory. The attempt only waits for a rename into the trash (`%trash`, a name no
    /// attempt can have); the files are deleted in the background.
    public func remove() {
        let trash = attempts.appendingPathComponent("%trash", isDirectory: true)
        let doomed = trash.appendingPathComponent(UUID().uuidString).path
        mkdir(trash.path, 0o700)
        let path = rename(url.path, doomed) == 0 ? doomed : url.path
        DispatchQueue.global(qos: .utility).async { Self.removeTree(path) }
    }

    /// Writes a small file the program reads (its inputs). Plain POSIX calls: Foundation's `Data.write`
    /// and `removeItem` cost milliseconds each here, several times a whole spawn of the program.
    public func write(_ data: Data, to name: String) throws(OperatorError) {
        let path = url.appendingPathComponent(name).path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ioError("create", path) }
        defer { close(fd) }
        let ok = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
        guard ok else { throw ioError("write", path) }
    }

    private func ioError(_ verb: String, _ path: String) -> OperatorError {
        OperatorError(.io, "cannot \(verb) \(path): \(String(cString: strerror(errno)))", retryable: true)
    }

    /// Deletes `path` and everything under it without following symbolic links (a link the program left
    /// pointing elsewhere is removed, never its target).
    static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            if let dir = opendir(path) {
                while let entry = readdir(dir) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                    }
                    if name == "." || name == ".." { continue }
                    removeTree(path + "/" + name)
                }
                closedir(dir)
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    /// An id as part of a folder name: `/`, `,` (the separator) and other awkward bytes percent-encoded,
    /// so no id can climb out of the attempts folder or pass for another.
    static func component(_ id: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
        allowed.insert(charactersIn: "-_.@+~=")
        return id.addingPercentEncoding(withAllowedCharacters: allowed) ?? "id"
    }
}
