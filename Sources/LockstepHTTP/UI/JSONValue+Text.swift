import Foundation
import LockstepCore

extension JSONValue {
    /// Indented JSON with sorted keys, for people to read (conf, outputs, event data).
    var prettyText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("null".utf8), as: UTF8.self)
    }

    /// A one-line rendering: strings as themselves, everything else as compact JSON.
    var inlineText: String {
        if case .string(let s) = self { return s }
        return canonicalJSON()
    }
}
