extension JSONValue {
    /// Compact JSON with sorted keys: stable bytes for hashing, idempotency keys and tests.
    ///
    /// Printed directly rather than through `JSONEncoder` (every event's data is printed here). The
    /// bytes are the ones `JSONEncoder` with `.sortedKeys` and `.withoutEscapingSlashes` gave, which
    /// stored keys and hashes were made from: members ordered by their names' UTF-8 bytes, `"` `\`
    /// and control characters escaped (`\b \f \n \r \t`, else `\u00XX`), everything else as it is; a
    /// double as Swift prints it, without a trailing `.0`. A non-finite double, which JSON cannot
    /// hold, prints as `null` (the encoder failed on it and the whole value came out as `null`).
    public func canonicalJSON() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        printCanonical(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `canonicalJSON()` as bytes, for a record's value.
    public func canonicalJSONBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        printCanonical(into: &out)
        return out
    }

    public func printCanonical(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .int(let value): out.append(contentsOf: String(value).utf8)
        case .double(let value):
            guard value.isFinite else { out.append(contentsOf: "null".utf8); return }
            var text = value.description
            if text.hasSuffix(".0") { text.removeLast(2) }
            out.append(contentsOf: text.utf8)
        case .string(let value): Self.printString(value, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                element.printCanonical(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            var first = true
            for (key, member) in members.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                Self.printString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                member.printCanonical(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func printString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(byte)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(byte)
            case 0x08: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "f"))
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
