import Foundation
import LockstepCore
#if canImport(Glibc)
import Glibc
#endif

/// `command`: runs a program in a process group of its own, in a fresh attempt directory, streaming its
/// stdout and stderr into the attempt's log. Its output is the JSON object it writes to the file named
/// by `LOCKSTEP_OUTPUT`; exit 0 succeeds, `skip_exit_code` (99) skips, anything else fails with the
/// tail of its stderr. At the deadline or on cancellation the whole group gets SIGTERM, `kill_grace`
/// later SIGKILL, and the attempt ends only once no process of the group is left.
struct CommandOperator: TaskOperator {
    /// How much of stderr a failure quotes.
    static let tailLines = 20
    static let tailBytes = 4 << 10
    /// How much of the output a failure quotes.
    static let outputExcerptBytes = 1 << 10

    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        let params = try Params(context)
        let spec = try CommandSpec(params)
        let origin = params.origin
        let directory = AttemptDirectory(context)
        try directory.create()
        defer { if !spec.keepWorkdir { directory.remove() } }
        let output = directory.url.appendingPathComponent("output.json")
        let inputs = directory.url.appendingPathComponent("inputs.json")
        try directory.write(Data(JSONValue.object(context.upstream).canonicalJSON().utf8), to: inputs.lastPathComponent)

        let cwd = try workingDirectory(spec, directory: directory.url, origin: origin)
        let environment = spec.environment(context, workdir: directory.url, output: output, inputs: inputs)
        let executable = try resolve(spec.argv[0], path: environment["PATH"] ?? "", cwd: cwd, origin: origin)
        let shown = context.secrets.apply(spec.argv.map(Self.quoted).joined(separator: " "))
        let log = context.log
        let tail = StderrTail(lines: Self.tailLines, bytes: Self.tailBytes)
        let started = ContinuousClock.now
        // Logged before the spawn, so it precedes the program's own first lines.
        log.info("running \(shown) in \(cwd)")
        let group: ProcessGroup
        do {
            group = try ProcessGroup.spawn(ProcessGroup.Launch(
                executable: executable, arguments: spec.argv, environment: environment.map { "\($0.key)=\($0.value)" }.sorted(),
                workingDirectory: cwd)
            ) { stream, line in
                log.write(line, stream: stream)
                if stream == .stderr { tail.add(line) }
            }
        } catch {
            throw spawnFailure(error, program: spec.argv[0], executable: executable, origin: origin)
        }
        let outcome = await group.run(deadline: context.deadline, grace: spec.killGrace)
        let elapsed = Self.format(ContinuousClock.now - started)
        var warnings: [String] = []
        if outcome.straysStopped {
            warnings.append("`\(spec.argv[0])` left processes running in its process group; they were stopped")
            log.warning(warnings[0])
        }
        if !outcome.groupEmpty {
            log.warning("process group \(group.pid) still has members after SIGKILL (uninterruptible I/O?)")
        }
        if spec.keepWorkdir { log.info("kept the attempt directory \(directory.url.path)") }

        let program = "command `\(context.secrets.apply(spec.argv[0]))`"
        if let stopped = outcome.stopped {
            let how = outcome.killed ? "SIGTERM, then SIGKILL after \(Self.format(spec.killGrace)) grace" : "SIGTERM"
            log.warning("pid \(group.pid) stopped with \(how) after \(elapsed)")
            let written = readOutput(output, limit: spec.outputLimit, origin: origin)
            switch stopped {
            case .deadline:
                throw failure("\(program) ran past the task's deadline and was stopped (\(how))", .timeout, tail: tail,
                              output: written, context: context, retryable: true)
            case .cancelled:
                throw failure("\(program) was cancelled and stopped (\(how))", .cancelled, tail: tail,
                              output: written, context: context, retryable: true)
            }
        }

        log.info("pid \(group.pid) \(outcome.exit) after \(elapsed)")
        let written = readOutput(output, limit: spec.outputLimit, origin: origin)
        switch outcome.exit {
        case .exited(0):
            let value = try written.get()
            return OperatorResult(output: context.secrets.apply(value ?? .emptyObject), warnings: warnings)
        case .exited(let code) where code == spec.skipExitCode:
            let value = try? written.get()
            return .skipped("\(program) exited \(code) (its skip_exit_code)",
                            output: context.secrets.apply(value ?? .emptyObject), warnings: warnings)
        case .exited(let code):
            throw failure("\(program) exited \(code) after \(elapsed)", .failed, tail: tail, output: written, context: context,
                          retryable: spec.isRetryable(exitCode: code))
        case .signaled, .unknown:
            // Not our signal (we did not stop it): the OOM killer or an operator's kill; another try may pass.
            throw failure("\(program) \(outcome.exit) after \(elapsed)", .failed, tail: tail, output: written, context: context, retryable: true)
        }
    }

    private func failure(_ what: String, _ category: OperatorError.Category, tail: StderrTail, output: Result<JSONValue?, OperatorError>,
                         context: OperatorContext, retryable: Bool) -> OperatorError {
        var message = "task \(context.dagID).\(context.taskID): \(what)"
        let lines = tail.lines
        message += lines.isEmpty ? "; stderr was empty" : "; last stderr lines:\n" + lines.joined(separator: "\n")
        switch output {
        case .success(let value?):
            let text = value.canonicalJSON()
            message += "\noutput: " + (text.utf8.count > Self.outputExcerptBytes
                ? String(decoding: text.utf8.prefix(Self.outputExcerptBytes), as: UTF8.self) + "…" : text)
        case .success(nil): break
        case .failure(let error): message += "\n(\(error.message))"
        }
        return context.secrets.apply(OperatorError(category, message, retryable: retryable))
    }

    /// The JSON the program wrote to LOCKSTEP_OUTPUT, nil if it wrote none.
    private func readOutput(_ url: URL, limit: Int, origin: String) -> Result<JSONValue?, OperatorError> {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return .success(nil) }
        defer { try? handle.close() }
        let data: Data
        do { data = try handle.read(upToCount: limit + 1) ?? Data() } catch {
            return .failure(OperatorError(.io, "task \(origin): cannot read the output file: \(error.localizedDescription)", retryable: true))
        }
        if data.count > limit {
            return .failure(OperatorError(.badResponse, "task \(origin): the output file ($LOCKSTEP_OUTPUT) is over output_limit "
                + "(\(Self.formatBytes(limit))); write less, or raise the task's `output_limit`", retryable: false))
        }
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) { return .success(nil) }
        guard let value = try? JSONValue.parse(utf8: Array(data)) else {
            return .failure(OperatorError(.badResponse, "task \(origin): the output file ($LOCKSTEP_OUTPUT) is not valid JSON "
                + "(\(data.count) bytes)", retryable: false))
        }
        guard value.objectValue != nil else {
            return .failure(OperatorError(.badResponse, "task \(origin): the output file ($LOCKSTEP_OUTPUT) must hold a JSON object "
                + "(downstream tasks read its fields), not `\(value.canonicalJSON().prefix(40))`", retryable: false))
        }
        return .success(value)
    }

    private func workingDirectory(_ spec: CommandSpec, directory: URL, origin: String) throws(OperatorError) -> String {
        guard let cwd = spec.cwd, !cwd.isEmpty else { return directory.path }
        let path = cwd.hasPrefix("/") ? cwd : directory.appendingPathComponent(cwd).path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .config("task \(origin): param `cwd` is \(path), which is not a directory")
        }
        return path
    }

    /// The program's path: as given when it holds a `/` (relative to `cwd`), else the first match in the
    /// program's own PATH, which is the one the program would see, not the worker's.
    private func resolve(_ program: String, path: String, cwd: String, origin: String) throws(OperatorError) -> String {
        func runnable(_ candidate: String) -> Bool {
            var info = stat()
            return stat(candidate, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(candidate, X_OK) == 0
        }
        if program.contains("/") {
            let candidate = program.hasPrefix("/") ? program : URL(fileURLWithPath: cwd).appendingPathComponent(program).path
            guard FileManager.default.fileExists(atPath: candidate) else {
                throw .config("task \(origin): program `\(program)` not found (looked for \(candidate))")
            }
            guard runnable(candidate) else {
                throw .config("task \(origin): program `\(program)` is not an executable file (\(candidate)); check its mode (chmod +x)")
            }
            return candidate
        }
        for directory in path.split(separator: ":", omittingEmptySubsequences: false) {
            let base = directory.isEmpty ? cwd : String(directory)
            let candidate = base.hasSuffix("/") ? base + program : base + "/" + program
            if runnable(candidate) { return candidate }
        }
        throw .config("task \(origin): program `\(program)` not found in PATH (\(path)); install it, give its absolute path, "
            + "or set PATH under the task's `env`")
    }

    private func spawnFailure(_ error: ProcessGroupError, program: String, executable: String, origin: String) -> OperatorError {
        let reason = String(cString: strerror(error.code))
        switch error.code {
        case ENOENT, ENOTDIR:
            return .config("task \(origin): cannot run `\(program)` (\(executable)): \(reason); if it is a script, is the "
                + "interpreter on its #! line installed?")
        case EACCES, EPERM, ENOEXEC, E2BIG, ELOOP, ENAMETOOLONG:
            return .config("task \(origin): cannot run `\(program)` (\(executable)): \(reason)")
        default:
            // Out of processes, memory or descriptors: the machine may have room again later.
            return OperatorError(.unavailable, "task \(origin): cannot start `\(program)`: \(error)", retryable: true)
        }
    }

    static func quoted(_ word: String) -> String {
        guard word.isEmpty || word.contains(where: { " \t\n'\"\\$`*?[]{}()<>|&;#~".contains($0) }) else { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    static func format(_ duration: Duration) -> String {
        let s = duration.seconds
        return s < 10 ? String(format: "%.2f s", s) : String(format: "%.1f s", s)
    }

    static func formatBytes(_ n: Int) -> String {
        if n >= 1 << 20, n % (1 << 20) == 0 { return "\(n >> 20) MiB = \(n) bytes" }
        if n >= 1 << 10, n % (1 << 10) == 0 { return "\(n >> 10) KiB = \(n) bytes" }
        return "\(n) bytes"
    }
}

/// The last lines of a program's stderr, bounded in lines and bytes, for a failure's cause.
final class StderrTail: @unchecked Sendable {
    // @unchecked: `kept` and `size` are only touched with `lock` held.
    private let lock = NSLock()
    private var kept: [String] = []
    private var size = 0
    private let maxLines: Int
    private let maxBytes: Int

    init(lines: Int, bytes: Int) {
        maxLines = lines
        maxBytes = bytes
    }

    func add(_ line: String) {
        let clipped = line.utf8.count > maxBytes ? String(decoding: line.utf8.suffix(maxBytes), as: UTF8.self) : line
        lock.withLock {
            kept.append(clipped)
            size += clipped.utf8.count + 1
            while kept.count > maxLines || size > maxBytes {
                size -= kept.removeFirst().utf8.count + 1
            }
        }
    }

    var lines: [String] { lock.withLock { kept } }
}
