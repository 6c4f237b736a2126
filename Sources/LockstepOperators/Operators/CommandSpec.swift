import Foundation
import LockstepCore

/// The `command` operator's params, checked: what to run, with which environment, and how its exit
/// codes, output and stopping are treated.
struct CommandSpec: Sendable {
    /// The program's argv as given (`/bin/sh -c …` already prepended when `shell: true`).
    var argv: [String]
    /// Variables from `env`, rendered.
    var env: [(String, String)]
    var inheritEnvironment: Bool
    var skipExitCode: Int32?
    /// Nil: every failing exit code is retryable.
    var retryExitCodes: Set<Int32>?
    var killGrace: Duration
    var outputLimit: Int
    /// Where the program starts, when not in its attempt directory.
    var cwd: String?
    var keepWorkdir: Bool

    static let defaultSkipExitCode: Int32 = 99
    static let defaultOutputLimit = 1 << 20
    static let maxOutputLimit = 16 << 20
    /// Names Lockstep sets for the program; `env` may not replace them.
    static let contextVariables = ["LOCKSTEP_DAG_ID", "LOCKSTEP_RUN_ID", "LOCKSTEP_TASK_ID", "LOCKSTEP_TRY_NUMBER",
                                   "LOCKSTEP_LOGICAL_DATE", "LOCKSTEP_OUTPUT", "LOCKSTEP_INPUTS", "LOCKSTEP_WORKDIR"]

    init(_ params: Params) throws(OperatorError) {
        let origin = params.origin
        let shell = try params.bool("shell", default: false)
        guard let argvValue = params["argv"], argvValue != .null else {
            throw .config("task \(origin): param `argv` is required: the program and its arguments, e.g. [python3, job.py]")
        }
        if shell {
            let words = try Self.words(argvValue, origin: origin, allowString: true)
            guard let script = words.first, !script.isEmpty else { throw .config("task \(origin): param `argv` needs a shell command line") }
            // Extra words become the script's $1…; "lockstep-command" is its $0, as in error messages.
            argv = ["/bin/sh", "-c", script] + (words.count > 1 ? ["lockstep-command"] + words.dropFirst() : [])
        } else {
            if argvValue.stringValue != nil {
                throw .config("task \(origin): param `argv` must be a list (the program, then its arguments), e.g. "
                    + "[python3, job.py]; to run a shell command line, set `shell: true`")
            }
            argv = try Self.words(argvValue, origin: origin, allowString: false)
            guard let program = argv.first, !program.isEmpty else {
                throw .config("task \(origin): param `argv` must name a program first")
            }
        }

        var env: [(String, String)] = []
        for (name, value) in (try params.object("env") ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard !name.isEmpty, !name.contains("="), !name.contains("\0") else {
                throw .config("task \(origin): `env` name `\(name)` is not a valid environment variable name")
            }
            guard !Self.contextVariables.contains(name) else {
                throw .config("task \(origin): `env` may not set `\(name)`; Lockstep sets it for every attempt")
            }
            let text = value.stringValue ?? value.canonicalJSON()
            guard !text.contains("\0") else { throw .config("task \(origin): `env.\(name)` holds a NUL byte") }
            env.append((name, text))
        }
        self.env = env
        inheritEnvironment = try params.bool("inherit_env", default: false)

        if let value = params["skip_exit_code"], value.boolValue == false {
            skipExitCode = nil
        } else {
            let code = try params.int("skip_exit_code", default: Int(Self.defaultSkipExitCode))
            guard (1...255).contains(code) else {
                throw .config("task \(origin): param `skip_exit_code` must be 1–255 (or false for none)")
            }
            skipExitCode = Int32(code)
        }
        if let codes = params["retry_exit_codes"], codes != .null {
            guard let list = codes.arrayValue else { throw .config("task \(origin): param `retry_exit_codes` must be a list of exit codes") }
            var set: Set<Int32> = []
            for element in list {
                guard let code = element.intValue ?? element.stringValue.flatMap({ Int64($0) }), (1...255).contains(code) else {
                    throw .config("task \(origin): `retry_exit_codes` holds `\(element.canonicalJSON())`; exit codes are 1–255")
                }
                set.insert(Int32(code))
            }
            if let skip = skipExitCode, set.contains(skip) {
                throw .config("task \(origin): exit code \(skip) is both `skip_exit_code` and in `retry_exit_codes`")
            }
            retryExitCodes = set
        } else {
            retryExitCodes = nil
        }
        killGrace = try params.seconds("kill_grace", default: 10)
        outputLimit = try Self.bytes(params["output_limit"], default: Self.defaultOutputLimit, param: "output_limit", origin: origin)
        guard outputLimit > 0, outputLimit <= Self.maxOutputLimit else {
            throw .config("task \(origin): param `output_limit` must be between 1 byte and \(Self.maxOutputLimit >> 20) MiB "
                + "(outputs travel in events)")
        }
        cwd = try params.string("cwd")
        keepWorkdir = try params.bool("keep_workdir", default: false)
    }

    /// The program's environment: a minimal base (or the worker's own, less every LOCKSTEP_* variable, with
    /// `inherit_env`), then `env`, then the attempt's context.
    func environment(_ context: OperatorContext, workdir: URL, output: URL, inputs: URL) -> [String: String] {
        let worker = ProcessInfo.processInfo.environment
        var result: [String: String]
        if inheritEnvironment {
            // The worker's LOCKSTEP_* variables are its own configuration, connection passwords included.
            result = worker.filter { !$0.key.hasPrefix("LOCKSTEP_") }
        } else {
            result = [
                "PATH": worker["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME": worker["HOME"] ?? workdir.path,
                "LANG": worker["LANG"] ?? "C.UTF-8",
            ]
        }
        for (name, value) in env { result[name] = value }
        result["LOCKSTEP_DAG_ID"] = context.dagID
        result["LOCKSTEP_RUN_ID"] = context.runID
        result["LOCKSTEP_TASK_ID"] = context.taskID
        result["LOCKSTEP_TRY_NUMBER"] = String(context.tryNumber)
        result["LOCKSTEP_LOGICAL_DATE"] = Timestamp.iso(context.logicalDate)
        result["LOCKSTEP_OUTPUT"] = output.path
        result["LOCKSTEP_INPUTS"] = inputs.path
        result["LOCKSTEP_WORKDIR"] = workdir.path
        return result
    }

    func isRetryable(exitCode: Int32) -> Bool {
        retryExitCodes.map { $0.contains(exitCode) } ?? true
    }

    private static func words(_ value: JSONValue, origin: String, allowString: Bool) throws(OperatorError) -> [String] {
        if allowString, let s = value.stringValue { return [s] }
        guard let list = value.arrayValue, !list.isEmpty else {
            throw .config("task \(origin): param `argv` must be a non-empty list of strings")
        }
        var words: [String] = []
        for element in list {
            switch element {
            case .string(let s): words.append(s)
            case .int, .double, .bool: words.append(element.canonicalJSON())
            default: throw .config("task \(origin): `argv` holds `\(element.canonicalJSON())`; each word must be a string")
            }
        }
        guard !words.contains(where: { $0.contains("\0") }) else { throw .config("task \(origin): `argv` holds a NUL byte") }
        return words
    }

    /// A byte count: an integer, or text such as `512KiB`, `1MiB`, `2MB`.
    static func bytes(_ value: JSONValue?, default fallback: Int, param: String, origin: String) throws(OperatorError) -> Int {
        guard let value, value != .null else { return fallback }
        if let n = value.intValue { return Int(n) }
        guard let text = value.stringValue?.trimmingCharacters(in: .whitespaces) else {
            throw .config("task \(origin): param `\(param)` must be a number of bytes, e.g. 1048576 or 1MiB")
        }
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("KB", 1000), ("MB", 1_000_000), ("B", 1)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let n = Double(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), n >= 0 {
                return Int((n * Double(scale)).rounded())
            }
        }
        if let n = Int(text) { return n }
        throw .config("task \(origin): param `\(param)` is `\(text)`; give a number of bytes, e.g. 1048576 or 1MiB")
    }
}
