import Foundation
import LockstepCore
#if canImport(Glibc)
import Glibc
#endif

/// Writes a file so readers see either the old content or the new, never a torn one, even across a crash.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws(OperatorError) {
        let directory = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw OperatorError(.io, "cannot create directory \(directory.path): \(error.localizedDescription)", retryable: false)
        }
        let temp = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8)).tmp")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ioError("create", temp) }
        var ok = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
        // fsync before rename: otherwise a crash can leave the new name pointing at an empty file.
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(temp.path, url.path) == 0 else {
            let error = ioError("write", url)
            unlink(temp.path)
            throw error
        }
        let dirFD = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 { _ = fsync(dirFD); close(dirFD) }
    }

    public static func write(json: JSONValue, to url: URL) throws(OperatorError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do { data = try encoder.encode(json) } catch {
            throw OperatorError(.internal, "cannot encode JSON for \(url.lastPathComponent)", retryable: false)
        }
        try write(data + Data("\n".utf8), to: url)
    }

    private static func ioError(_ verb: String, _ url: URL) -> OperatorError {
        let reason = String(cString: strerror(errno))
        // A full disk or a flaky mount may clear up; a permission problem will not, but both read alike here.
        return OperatorError(.io, "cannot \(verb) \(url.path): \(reason)", retryable: errno == ENOSPC || errno == EIO)
    }
}
