import Foundation

/// The DAG files as their authors wrote them (comments and all), for the Code view: `<id>.yaml` (or
/// `.yml`) in the DAG directory, else the file whose top-level `id:` names the DAG.
struct DagFiles: Sendable {
    let directory: String?

    struct Source: Sendable, Equatable {
        var path: String
        var text: String
    }

    func source(of dagID: String) -> Source? {
        guard let directory else { return nil }
        let base = URL(fileURLWithPath: directory)
        for ext in ["yaml", "yml"] {
            let url = base.appendingPathComponent("\(dagID).\(ext)")
            if let text = try? String(contentsOf: url, encoding: .utf8), Self.declaredID(text) == dagID { return Source(path: url.path, text: text) }
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            let url = base.appendingPathComponent(name)
            if let text = try? String(contentsOf: url, encoding: .utf8), Self.declaredID(text) == dagID { return Source(path: url.path, text: text) }
        }
        return nil
    }

    /// The value of the first top-level `id:` line, unquoted.
    static func declaredID(_ text: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix("id:") {
            var value = line.dropFirst(3)
            if let hash = value.range(of: " #") { value = value[..<hash.lowerBound] }
            return value.trimmingCharacters(in: CharacterSet.whitespaces.union(CharacterSet(charactersIn: "\"'")))
        }
        return nil
    }
}
