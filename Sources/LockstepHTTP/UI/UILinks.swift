import Foundation
import LockstepCore

/// Every URL the pages link to, built in one place: ids are percent-encoded as one path segment (run
/// ids hold `@`, `:`, `~`; dead-letter ids hold `/`, `[`, `]`), query values as query values. A link is
/// always a path on this server, never a URL taken from outside, so no `javascript:` can get in.
enum UILinks {
    static let dags = "/dags"
    static let runs = "/runs"
    static let login = "/login"
    static let logout = "/logout"

    static func dag(_ id: String) -> String { "/dags/\(segment(id))" }
    static func dagGrid(_ id: String, cursor: String? = nil) -> String { with(dag(id), ["cursor": cursor]) }
    static func dagRuns(_ id: String) -> String { dag(id) + "/runs" }
    static func dagGraph(_ id: String, runID: String? = nil) -> String { with(dag(id) + "/graph", ["run_id": runID]) }
    static func dagDurations(_ id: String) -> String { dag(id) + "/durations" }
    static func dagCode(_ id: String) -> String { dag(id) + "/code" }
    static func trigger(_ id: String) -> String { dag(id) + "/trigger" }
    static func pause(_ id: String) -> String { dag(id) + "/pause" }

    static func run(_ id: String) -> String { "/runs/\(segment(id))" }
    static func task(_ runID: String, _ taskID: String) -> String { run(runID) + "#task-" + anchor(taskID) }
    static func runEvents(_ id: String) -> String { run(id) + "/events" }
    static func cancel(_ id: String) -> String { run(id) + "/cancel" }
    static func log(_ a: AttemptID) -> String { run(a.runID) + "/tasks/\(segment(a.taskID))/tries/\(a.tryNumber)/log" }

    static let deadLetters = "/operate/deadletters"
    static let redrive = "/operate/deadletters/redrive"
    static let replay = "/operate/replay"
    static let backfill = "/operate/backfill"
    static let pools = "/operate/pools"
    static let variables = "/operate/variables"
    static let connections = "/operate/connections"
    static let audit = "/operate/audit"
    static let health = "/operate/health"

    /// The API routes the page scripts call.
    enum API {
        static func dag(_ id: String) -> String { "/api/v1/dags/\(segment(id))" }
        static func stream(dagID: String? = nil, runID: String? = nil) -> String {
            with("/api/v1/events/stream", ["dag_id": dagID, "run_id": runID])
        }
        static func logFollow(_ a: AttemptID, after: Int?) -> String {
            with("/api/v1/runs/\(segment(a.runID))/tasks/\(segment(a.taskID))/tries/\(a.tryNumber)/logs",
                 ["follow": "true", "after": after.map(String.init)])
        }
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// One path segment or query value, everything but unreserved characters percent-encoded.
    static func segment(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "" }

    /// `path?k=v&…` with the non-nil values, keys in the order given.
    static func with(_ path: String, _ query: KeyValuePairs<String, String?>) -> String {
        let items = query.compactMap { key, value in value.map { "\(segment(key))=\(segment($0))" } }
        return items.isEmpty ? path : path + "?" + items.joined(separator: "&")
    }

    static func with(_ path: String, _ query: [(String, String?)]) -> String {
        let items = query.compactMap { key, value in value.map { "\(segment(key))=\(segment($0))" } }
        return items.isEmpty ? path : path + "?" + items.joined(separator: "&")
    }

    /// An element id for a task: ids are letters, digits and `_` by DAG validation, but a run loaded
    /// from an older spec may name anything, so anything else becomes `-`.
    static func anchor(_ text: String) -> String {
        String(text.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) || $0 == "_" ? Character($0) : "-" })
    }

    /// Where to go after logging in: only a path on this server (`/…`, not `//host` or `/\host`).
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.hasPrefix("/\\"),
            !next.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) })
        else { return dags }
        return next
    }
}
