#if canImport(Glibc)
import Glibc

/// glibc functions Swift's Glibc module does not export (they sit behind `_GNU_SOURCE`, or are
/// variadic), looked up once by name. All exist in glibc 2.34+ (Debian bookworm has 2.36); where one is
/// missing, callers fall back or say what is missing.
enum LinuxSpawn {
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private typealias AddClosefrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    // prctl is variadic in C; every option used here takes integer arguments, which the Linux x86-64
    // and AArch64 calling conventions pass alike to variadic and fixed-argument functions.
    private typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32

    private static func symbol<T>(_ name: String, as type: T.Type) -> T? {
        guard let pointer = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(pointer, to: type)
    }

    private static let addChdir = symbol("posix_spawn_file_actions_addchdir_np", as: AddChdir.self)
    private static let addClosefrom = symbol("posix_spawn_file_actions_addclosefrom_np", as: AddClosefrom.self)
    private static let pipe2 = symbol("pipe2", as: Pipe2.self)
    private static let prctl = symbol("prctl", as: Prctl.self)

    /// Makes the child start in `directory`: the call's result, or nil when this glibc cannot (older than 2.29).
    static func addChdir(_ actions: inout posix_spawn_file_actions_t, _ directory: String) -> Int32? {
        guard let addChdir else { return nil }
        return addChdir(&actions, directory)
    }

    /// Closes every descriptor from `lowest` up in the child; false when this glibc cannot (older than 2.34),
    /// in which case only the close-on-exec flag keeps the worker's descriptors out of the program.
    static func addClosefrom(_ actions: inout posix_spawn_file_actions_t, _ lowest: Int32) -> Bool {
        guard let addClosefrom else { return false }
        return addClosefrom(&actions, lowest) == 0
    }

    /// A pipe whose both ends are close-on-exec from birth, so a program spawned by another thread at the
    /// same moment cannot inherit it (which would keep our reader from ever seeing end-of-file).
    static func pipe() -> (read: Int32, write: Int32)? {
        var fds: [Int32] = [-1, -1]
        if let pipe2 {
            guard pipe2(&fds, O_CLOEXEC) == 0 else { return nil }
        } else {
            guard Glibc.pipe(&fds) == 0 else { return nil }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        }
        return (fds[0], fds[1])
    }

    /// Makes this process the reaper of its descendants' orphans (PR_SET_CHILD_SUBREAPER), so a program's
    /// background children, once their parent is killed, become ours to reap instead of init's: in a
    /// container whose PID 1 never reaps, they would otherwise stay zombies, and their process group
    /// would never read as empty. True when it took effect.
    static let isSubreaper: Bool = {
        guard let prctl else { return false }
        let prSetChildSubreaper: Int32 = 36
        return prctl(prSetChildSubreaper, 1, 0, 0, 0) == 0
    }()
}
#endif
