import Foundation

/// Cuts a byte stream (a pipe) into lines as chunks arrive: a line split across two reads is joined,
/// `\r\n` counts as one end, and a line longer than `maxLineBytes` is emitted in pieces so a program
/// that never prints a newline cannot make the reader buffer without bound.
struct LineSplitter {
    let maxLineBytes: Int
    private var partial: [UInt8] = []

    init(maxLineBytes: Int = 16 << 10) {
        self.maxLineBytes = max(1, maxLineBytes)
    }

    /// Feeds a chunk; `emit` gets every complete line, without its newline.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (String) -> Void) {
        var start = 0
        let count = bytes.count
        var i = 0
        while i < count {
            if bytes[i] == UInt8(ascii: "\n") {
                if partial.isEmpty {
                    emit(Self.text(UnsafeRawBufferPointer(rebasing: bytes[start..<i])))
                } else {
                    partial.append(contentsOf: bytes[start..<i])
                    emit(Self.text(partial))
                    partial.removeAll(keepingCapacity: true)
                }
                start = i + 1
            } else if i - start + partial.count + 1 >= maxLineBytes {
                partial.append(contentsOf: bytes[start...i])
                emit(Self.text(partial))
                partial.removeAll(keepingCapacity: true)
                start = i + 1
            }
            i += 1
        }
        if start < count { partial.append(contentsOf: bytes[start..<count]) }
    }

    /// At end of stream: the last line if it had no newline.
    mutating func finish(_ emit: (String) -> Void) {
        guard !partial.isEmpty else { return }
        emit(Self.text(partial))
        partial.removeAll()
    }

    private static func text<C: Collection<UInt8>>(_ bytes: C) -> String {
        var line = String(decoding: bytes, as: UTF8.self)
        if line.hasSuffix("\r") { line.removeLast() }
        return line
    }
}
