/// Headers as one blob: a count, then per header a length-prefixed name and value (UInt32 little-endian).
/// Exact for any bytes, unlike JSON, and cheap to read back.
enum EmbeddedHeaderCoding {
    static func encode(_ headers: [BusHeader]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4 + headers.reduce(0) { $0 + 8 + $1.name.utf8.count + $1.value.count })
        append(UInt32(headers.count), to: &out)
        for header in headers {
            let name = Array(header.name.utf8)
            append(UInt32(name.count), to: &out)
            out.append(contentsOf: name)
            append(UInt32(header.value.count), to: &out)
            out.append(contentsOf: header.value)
        }
        return out
    }

    /// Decodes what `encode` wrote; a truncated blob yields the headers read before the damage.
    static func decode(_ bytes: [UInt8]) -> [BusHeader] {
        var index = 0
        func read() -> UInt32? {
            guard index + 4 <= bytes.count else { return nil }
            defer { index += 4 }
            return UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2]) << 16
                | UInt32(bytes[index + 3]) << 24
        }
        func slice(_ count: UInt32) -> ArraySlice<UInt8>? {
            let end = index + Int(count)
            guard end <= bytes.count else { return nil }
            defer { index = end }
            return bytes[index..<end]
        }
        guard let count = read() else { return [] }
        var headers: [BusHeader] = []
        for _ in 0..<count {
            guard let nameLength = read(), let name = slice(nameLength), let valueLength = read(),
                let value = slice(valueLength)
            else { break }
            headers.append(BusHeader(String(decoding: name, as: UTF8.self), Array(value)))
        }
        return headers
    }

    private static func append(_ value: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: value))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
        out.append(UInt8(truncatingIfNeeded: value >> 16))
        out.append(UInt8(truncatingIfNeeded: value >> 24))
    }
}
