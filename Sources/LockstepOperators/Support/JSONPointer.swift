import LockstepCore

/// A JSON Pointer (RFC 6901): `""` is the whole document, `/a/b/0` walks object keys and array indices,
/// `~1` stands for `/` and `~0` for `~` inside a key.
public struct JSONPointer: Sendable, Hashable, CustomStringConvertible {
    public let tokens: [String]
    public let description: String

    /// Parses `text`; nil when it is not a pointer (it must be empty or start with `/`, and `~` must be
    /// followed by 0 or 1).
    public init?(_ text: String) {
        guard text.isEmpty || text.hasPrefix("/") else { return nil }
        var tokens: [String] = []
        for raw in text.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            var token = ""
            var iterator = raw.makeIterator()
            while let c = iterator.next() {
                guard c == "~" else { token.append(c); continue }
                switch iterator.next() {
                case "0": token.append("~")
                case "1": token.append("/")
                default: return nil
                }
            }
            tokens.append(token)
        }
        self.tokens = tokens
        description = text
    }

    /// The value the pointer names in `document`, or nil when there is none (a missing key, an index
    /// out of range, `-`, or a step into a scalar).
    public func resolve(in document: JSONValue) -> JSONValue? {
        var value = document
        for token in tokens {
            switch value {
            case .object(let o):
                guard let next = o[token] else { return nil }
                value = next
            case .array(let a):
                // RFC 6901: decimal digits, no leading zero except "0" itself.
                guard let index = Int(token), token.allSatisfy(\.isASCII), token.allSatisfy(\.isNumber),
                      token == "0" || !token.hasPrefix("0"), index < a.count else { return nil }
                value = a[index]
            default:
                return nil
            }
        }
        return value
    }
}
