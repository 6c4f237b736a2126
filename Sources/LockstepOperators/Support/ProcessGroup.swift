import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LockstepCore

/// How a program ended.
public enum ProcessExit: Sendable, Hashable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)
    /// It ended, but something else in this process reaped it first (a `waitpid(-1)` elsewhere).
    case unknown

    public var description: String {
        switch self {
        case .exited(let code): "exited \(code)"
        case .signaled(let signal): "was killed by signal \(signal) (\(ProcessExit.signalName(signal)))"
        case .unknown: "ended with an unknown status (reaped elsewhere in this process)"
        }
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGTERM: "SIGTERM"
        case SIGKILL: "SIGKILL"
        case SIGINT: "SIGINT"
        case SIGSEGV: "SIGSEGV"
        case SIGABRT: "SIGABRT"
        case SIGBUS: "SIGBUS"
        case SIGPIPE: "SIGPIPE"
        case SIGHUP: "SIGHUP"
        default: "signal \(signal)"
        }
    }

    init(waitStatus status: Int32) {
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }
}

/// A program could not be started; `code` is the errno.
public struct ProcessGroupError: Error, Sendable, Hashable, CustomStringConvertible {
    public var operation: String
    public var code: Int32

    public var description: String { "\(operation): \(String(cString: strerror(code))) (errno \(code))" }
}

/// One program in a process group of its own, with its stdout and stderr read line by line.
///
/// Foundation's `Process` cannot put a child in its own group, and without a group the grandchildren a
/// script starts escape a kill. Here the child is spawned with `POSIX_SPAWN_SETPGROUP` (its pid is the
/// group id), stopping signals the whole group, and `run` returns only when the group is empty: every
/// member reaped (this process is made a child subreaper, so orphaned members become ours to reap) and
/// `kill(-pgid, 0)` answering ESRCH. A program that moves processes out of its group (`setsid`, shell
/// job control) takes them out of reach: that needs cgroups, which a worker does not own.
public final class ProcessGroup: @unchecked Sendable {
    // @unchecked: after `spawn` returns, the fields are immutable; the state that changes lives in the
    // latches (each thread-safe), and the pipes are owned by the reader thread alone.

    public struct Launch: Sendable {
        /// An absolute path (or one relative to `workingDirectory`); nothing is looked up in PATH here.
        public var executable: String
        /// The full argv, the program's name first.
        public var arguments: [String]
        /// `NAME=value` entries: exactly the program's environment.
        public var environment: [String]
        public var workingDirectory: String

        public init(executable: String, arguments: [String], environment: [String], workingDirectory: String) {
            self.executable = executable
            self.arguments = arguments
            self.environment = environment
            self.workingDirectory = workingDirectory
        }
    }

    /// Why the group was stopped before its leader exited by itself.
    public enum StopReason: Sendable, Hashable {
        case deadline
        case cancelled
    }

    public struct Outcome: Sendable, Hashable {
        public var exit: ProcessExit
        /// Set when the program was stopped rather than ending by itself.
        public var stopped: StopReason?
        /// SIGTERM was not enough within the grace period: the group got SIGKILL.
        public var killed: Bool
        /// The program ended but left processes running in its group, which were stopped.
        public var straysStopped: Bool
        /// The group read as empty before `run` returned (false only if a member outlived even SIGKILL's wait).
        public var groupEmpty: Bool
    }

    private enum Trigger: Sendable {
        case exited, deadline, cancelled
    }

    /// The program's pid, which is also its process group id.
    public let pid: pid_t
    private let trigger = Latch<Trigger>()
    private let leaderExit = Latch<ProcessExit>()
    /// Every child of ours in the group has been reaped.
    private let reaped = Latch<Bool>()
    private let outputDone = Latch<Bool>()
    private let wake: (read: Int32, write: Int32)

    /// How long `run` waits after SIGKILL for the group to disappear before giving up on it.
    static let killWait = Duration.seconds(30)

    private init(pid: pid_t, wake: (read: Int32, write: Int32)) {
        self.pid = pid
        self.wake = wake
    }

    /// Starts the program; `onLine` gets each line it prints, on a reader thread, in order per stream.
    public static func spawn(
        _ launch: Launch, maxLineBytes: Int = 16 << 10, onLine: @escaping @Sendable (TaskLogStream, String) -> Void
    ) throws(ProcessGroupError) -> ProcessGroup {
        _ = LinuxSpawn.isSubreaper
        guard let out = LinuxSpawn.pipe() else { throw ProcessGroupError(operation: "pipe", code: errno) }
        guard let err = LinuxSpawn.pipe() else {
            let code = errno
            close(out.read); close(out.write)
            throw ProcessGroupError(operation: "pipe", code: code)
        }
        guard let wake = LinuxSpawn.pipe() else {
            let code = errno
            [out.read, out.write, err.read, err.write].forEach { close($0) }
            throw ProcessGroupError(operation: "pipe", code: code)
        }
        let pid: pid_t
        do {
            pid = try start(launch, stdout: out.write, stderr: err.write)
        } catch {
            [out.read, out.write, err.read, err.write, wake.read, wake.write].forEach { close($0) }
            throw error
        }
        close(out.write)
        close(err.write)
        for fd in [out.read, err.read, wake.read] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }

        let group = ProcessGroup(pid: pid, wake: wake)
        let reaper = Thread { group.reap() }
        reaper.name = "lockstep-reap-\(pid)"
        reaper.start()
        let reader = Thread {
            OutputReader(fds: [(out.read, .stdout), (err.read, .stderr)], wake: wake.read, maxLineBytes: maxLineBytes,
                         onLine: onLine).run()
            group.outputDone.fire(true)
        }
        reader.name = "lockstep-read-\(pid)"
        reader.start()
        return group
    }

    private static func start(_ launch: Launch, stdout: Int32, stderr: Int32) throws(ProcessGroupError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        guard let chdirResult = LinuxSpawn.addChdir(&actions, launch.workingDirectory) else {
            throw ProcessGroupError(operation: "setting the working directory (needs glibc 2.29+)", code: ENOSYS)
        }
        guard chdirResult == 0 else { throw ProcessGroupError(operation: "chdir \(launch.workingDirectory)", code: chdirResult) }
        _ = LinuxSpawn.addClosefrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A group of its own; no blocked signals; and every signal at its default action, since an
        // ignored disposition (the worker ignores SIGPIPE) would otherwise survive exec.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &all)

        let argv = launch.arguments.map { strdup($0) } + [nil]
        let envp = launch.environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, launch.executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw ProcessGroupError(operation: "spawn \(launch.executable)", code: result) }
        return pid
    }

    /// Waits until the program ends by itself, `deadline` passes, or the calling task is cancelled; in
    /// the last two cases stops the group: SIGTERM, up to `grace` for it to go, then SIGKILL. A program
    /// that ends but leaves members running has them stopped the same way. Returns once the group is
    /// empty and its output read to the end.
    public func run(deadline: ContinuousClock.Instant, grace: Duration) async -> Outcome {
        let delay = max((deadline - ContinuousClock.now).seconds, 0)
        let timer = DispatchWorkItem { [trigger] in trigger.fire(.deadline) }
        DispatchQueue.global().asyncAfter(deadline: .now() + delay, execute: timer)
        // A program that ends long before an hour-long deadline should not leave its timer pending that long.
        defer { timer.cancel() }
        let first = await withTaskCancellationHandler {
            await trigger.wait() ?? .cancelled
        } onCancel: { [trigger] in
            trigger.fire(.cancelled)
        }
        // Stopping must finish even though the caller's task may be cancelled: an unstructured task does
        // not inherit the cancellation.
        return await Task { await settle(after: first, grace: grace) }.value
    }

    private func settle(after first: Trigger, grace: Duration) async -> Outcome {
        var stopped: StopReason?
        var killed = false
        var strays = false
        switch first {
        case .exited:
            if !groupIsEmpty() {
                strays = true
                killed = await terminate(grace: grace)
            }
        case .deadline:
            stopped = .deadline
            killed = await terminate(grace: grace)
        case .cancelled:
            stopped = .cancelled
            killed = await terminate(grace: grace)
        }
        // A leader that survived SIGKILL's wait (uninterruptible sleep) has no exit status yet.
        let exit = await leaderExit.wait(until: .now + Self.killWait) ?? .signaled(SIGKILL)
        let empty = await waitUntilEmpty(until: .now + .seconds(1))
        // Every writer in the group is gone, so what it wrote is in the pipes: read that and stop, even if
        // a process that left the group still holds a pipe open.
        _ = Glibc.write(wake.write, "x", 1)
        _ = await outputDone.wait()
        close(wake.write)
        close(wake.read)
        return Outcome(exit: exit, stopped: stopped, killed: killed, straysStopped: strays, groupEmpty: empty)
    }

    /// SIGTERM (and SIGCONT, so a stopped member can act on it), `grace`, then SIGKILL; true if SIGKILL was needed.
    private func terminate(grace: Duration) async -> Bool {
        signal(SIGTERM)
        signal(SIGCONT)
        if await waitUntilEmpty(until: .now + grace) { return false }
        signal(SIGKILL)
        _ = await waitUntilEmpty(until: .now + Self.killWait)
        return true
    }

    /// The group, and the leader by pid in case it left its group: until we reap it, its pid is still its own.
    private func signal(_ signal: Int32) {
        kill(-pid, signal)
        if leaderExit.current == nil { kill(pid, signal) }
    }

    private func groupIsEmpty() -> Bool {
        kill(-pid, 0) == -1 && errno == ESRCH
    }

    /// True once no process is left in the group; false if `deadline` comes first.
    private func waitUntilEmpty(until deadline: ContinuousClock.Instant) async -> Bool {
        guard await reaped.wait(until: deadline) != nil else { return groupIsEmpty() }
        // Our own children are all reaped; members that are not (without the subreaper, orphans go to init,
        // which reaps them in its own time) are polled for.
        while !groupIsEmpty() {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    /// The reaper thread: reaps every child of ours in the group (the leader, and the orphans handed to
    /// us as subreaper) until none is left, recording the leader's status.
    private func reap() {
        var leaderReaped = false
        while true {
            var status: Int32 = 0
            let reapedPID = waitpid(-pid, &status, 0)
            if reapedPID == -1 {
                if errno == EINTR { continue }
                // No child left in the group. A leader that left its own group is waited for by pid.
                if !leaderReaped {
                    var result: pid_t
                    repeat { result = waitpid(pid, &status, 0) } while result == -1 && errno == EINTR
                    leaderReaped = true
                    recordLeader(result == pid ? ProcessExit(waitStatus: status) : .unknown)
                    continue
                }
                break
            }
            if reapedPID == pid {
                leaderReaped = true
                recordLeader(ProcessExit(waitStatus: status))
            }
        }
        reaped.fire(true)
    }

    private func recordLeader(_ exit: ProcessExit) {
        leaderExit.fire(exit)
        trigger.fire(.exited)
    }
}

/// The reader thread: polls the program's stdout and stderr (and a wake-up pipe) and hands out lines,
/// so neither pipe ever fills while the other is read and the program never blocks on its output.
private struct OutputReader {
    var fds: [(fd: Int32, stream: TaskLogStream)]
    let wake: Int32
    let maxLineBytes: Int
    let onLine: @Sendable (TaskLogStream, String) -> Void

    func run() {
        var splitters = fds.map { _ in LineSplitter(maxLineBytes: maxLineBytes) }
        var open = Array(fds.indices)
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var draining = false
        while !open.isEmpty {
            var polled = open.map { pollfd(fd: fds[$0].fd, events: Int16(POLLIN), revents: 0) }
            polled.append(pollfd(fd: wake, events: Int16(POLLIN), revents: 0))
            let ready = draining ? 0 : poll(&polled, nfds_t(polled.count), -1)
            if ready < 0 && errno != EINTR { break }
            if polled.last!.revents != 0 { draining = true }
            var stillOpen: [Int] = []
            for (slot, index) in open.enumerated() {
                guard draining || polled[slot].revents != 0 else { stillOpen.append(index); continue }
                // A few reads per wake-up, so a chatty stdout cannot starve stderr.
                var ended = false
                for _ in 0..<(draining ? 64 : 4) {
                    let n = buffer.withUnsafeMutableBytes { read(fds[index].fd, $0.baseAddress, $0.count) }
                    if n > 0 {
                        let stream = fds[index].stream
                        buffer.withUnsafeBytes { raw in
                            splitters[index].feed(UnsafeRawBufferPointer(rebasing: raw[0..<n])) { onLine(stream, $0) }
                        }
                        continue
                    }
                    if n < 0 && (errno == EINTR) { continue }
                    // EOF, or (draining) nothing more buffered: this stream is done either way.
                    ended = n == 0 || draining || (errno != EAGAIN && errno != EWOULDBLOCK)
                    break
                }
                if ended || draining {
                    let stream = fds[index].stream
                    splitters[index].finish { onLine(stream, $0) }
                    close(fds[index].fd)
                } else {
                    stillOpen.append(index)
                }
            }
            open = stillOpen
        }
    }
}
