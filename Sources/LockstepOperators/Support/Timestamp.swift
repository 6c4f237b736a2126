import Foundation

/// Timestamp formats the seed's payloads use, always in UTC.
public enum Timestamp {
    /// `2025-09-18T02:00:00.000Z`, as in the seed's model metadata and sync package.
    public static func iso(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// `20250918_020000`, for model versions and report file names.
    public static func compact(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func pad(_ v: Int?, _ width: Int) -> String {
            let s = String(v ?? 0)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return pad(c.year, 4) + pad(c.month, 2) + pad(c.day, 2) + "_" + pad(c.hour, 2) + pad(c.minute, 2) + pad(c.second, 2)
    }
}
