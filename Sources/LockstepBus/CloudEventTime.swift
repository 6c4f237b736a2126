import Foundation
import LockstepCore

/// RFC 3339 timestamps for the `time` attribute: written in UTC with microseconds, read with any
/// fraction and any offset. Hand-rolled because formatters are locale- and platform-sensitive and
/// round through milliseconds; microseconds round-trip exactly for dates made from whole microseconds.
enum CloudEventTime {
    static func format(_ date: Date) -> String {
        let totalMicros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        var seconds = Int64((totalMicros / 1_000_000).rounded(.down))
        var micros = Int64(totalMicros) - seconds * 1_000_000
        if micros < 0 { micros += 1_000_000; seconds -= 1 }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 { secondOfDay += 86_400; days -= 1 }
        let (year, month, day) = civil(fromDays: days)
        func pad(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):"
            + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(micros, 6))Z"
    }

    /// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; `t`/`z` and a space for `T` are accepted as RFC 3339 allows.
    static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        var i = 0
        func number(_ width: Int) -> Int64? {
            guard i + width <= b.count else { return nil }
            var value: Int64 = 0
            for k in i..<(i + width) {
                guard b[k] >= 48, b[k] <= 57 else { return nil }
                value = value * 10 + Int64(b[k] - 48)
            }
            i += width
            return value
        }
        func expect(_ allowed: String) -> Bool {
            guard i < b.count, allowed.utf8.contains(b[i]) else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
            expect("Tt "), let hour = number(2), expect(":"), let minute = number(2), expect(":"),
            let second = number(2)
        else { return nil }
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60 else {
            return nil
        }
        var fraction = 0.0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        var offsetSeconds: Int64 = 0
        if expect("Zz") {
        } else if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            let sign: Int64 = b[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let oh = number(2), expect(":"), let om = number(2), oh < 24, om < 60 else { return nil }
            offsetSeconds = sign * (oh * 3600 + om * 60)
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let seconds = days(fromYear: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
            - offsetSeconds
        // Whole microseconds, so a time written by `format` reads back as the identical Date.
        let micros = (fraction * 1_000_000).rounded()
        return Date(timeIntervalSince1970: (Double(seconds) * 1_000_000 + micros) / 1_000_000)
    }

    // Calendar arithmetic without a calendar object, shared with the cron code (`CivilDay`).
    private static func days(fromYear y: Int64, month m: Int64, day d: Int64) -> Int64 {
        Int64(CivilDay(year: Int(y), month: Int(m), day: Int(d)).daysSinceEpoch)
    }

    private static func civil(fromDays z: Int64) -> (Int64, Int64, Int64) {
        let day = CivilDay(daysSinceEpoch: Int(z))
        return (Int64(day.year), Int64(day.month), Int64(day.day))
    }
}

extension CloudEvent {
    /// A time as the `time` attribute writes it: RFC 3339, UTC, microseconds.
    public static func formatTime(_ date: Date) -> String { CloudEventTime.format(date) }
    /// Reads an RFC 3339 timestamp with any fraction and offset; nil if it is not one.
    public static func parseTime(_ text: String) -> Date? { CloudEventTime.parse(text) }
}
