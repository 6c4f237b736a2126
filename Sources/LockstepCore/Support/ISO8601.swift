import Foundation

/// RFC 3339 / ISO 8601 timestamps in UTC, with or without fractional seconds, and plain dates.
public enum ISO8601 {
    public static func parse(_ text: String) -> Date? {
        if let whole = wholeSecondUTC(text) { return whole }
        let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        if let d = try? withFraction.parse(text) { return d }
        if let d = try? Date.ISO8601FormatStyle().parse(text) { return d }
        if let d = try? Date.ISO8601FormatStyle().year().month().day().parse(text) { return d }
        return nil
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` read by hand, the form `format` writes for a whole second (a scheduled
    /// or backfilled run's logical date): Foundation's format styles took several microseconds, most
    /// of decoding a run request. Only plainly valid dates are read here, to the same `Date`
    /// Foundation gives (a whole number of seconds is exact either way); anything else (fractions,
    /// offsets, a 31st of a short month, years before 1900) is left to Foundation, so what parses and
    /// to what is unchanged (`ISO8601Tests`).
    static func wholeSecondUTC(_ text: String) -> Date? {
        // A string without contiguous UTF-8 (none on Linux) is left to Foundation.
        let parsed = text.utf8.withContiguousStorageIfAvailable { b -> Date? in
            guard b.count == 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"),
                b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"), b[19] == UInt8(ascii: "Z")
            else { return nil }
            func number(_ start: Int, _ width: Int) -> Int? {
                var value = 0
                for k in start..<(start + width) {
                    guard b[k] >= 48, b[k] <= 57 else { return nil }
                    value = value * 10 + Int(b[k] - 48)
                }
                return value
            }
            guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
                let minute = number(14, 2), let second = number(17, 2),
                year >= 1900, (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
                hour < 24, minute < 60, second < 60
            else { return nil }
            let days = CivilDay(year: year, month: month, day: day).daysSinceEpoch
            return Date(timeIntervalSince1970: Double(days * 86_400 + hour * 3600 + minute * 60 + second))
        }
        return parsed ?? nil
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// `2025-09-18T02:00:00Z`, or with milliseconds when the instant has them.
    public static func format(_ date: Date) -> String {
        let whole = date.timeIntervalSince1970.rounded(.down) == date.timeIntervalSince1970
        return date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: !whole))
    }
}
