import Foundation

/// A cron expression read in a time zone: the instants it fires at.
///
/// Daylight saving: a wall-clock time that does not exist that day (clocks jump forward past it) fires
/// at the first instant after the jump; a wall-clock time that occurs twice (clocks go back) fires
/// once, at its first occurrence.
public struct CronSchedule: Sendable, Hashable {
    public let expression: CronExpression
    public let timeZone: TimeZone
    private let calendar: Calendar

    public init(_ text: String, timeZone: TimeZone = TimeZone(identifier: "UTC")!) throws(CronError) {
        expression = try CronExpression(text)
        self.timeZone = timeZone
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        self.calendar = calendar
        // An expression like `0 0 30 2 *` never fires; reject it rather than search forever.
        guard next(after: Date(timeIntervalSince1970: 0)) != nil else {
            throw CronError(reason: "`\(text)` never fires (no such date)")
        }
    }

    /// Searching further than this many days means the expression cannot match (Feb 29 on a weekday
    /// repeats within 28 years).
    private static let searchDays = 366 * 29

    /// The first firing strictly after `date`.
    public func next(after date: Date) -> Date? {
        let start = CivilDay(date, calendar)
        for offset in 0..<Self.searchDays {
            let day = start.adding(days: offset)
            guard expression.matches(month: day.month, day: day.day, weekday: day.weekday) else { continue }
            for hour in expression.hours {
                for minute in expression.minutes {
                    if let fire = instant(day, hour, minute), fire > date { return fire }
                }
            }
        }
        return nil
    }

    /// The last firing at or before `date`.
    public func previous(atOrBefore date: Date) -> Date? {
        let start = CivilDay(date, calendar)
        for offset in 0..<Self.searchDays {
            let day = start.adding(days: -offset)
            guard expression.matches(month: day.month, day: day.day, weekday: day.weekday) else { continue }
            for hour in expression.hours.reversed() {
                for minute in expression.minutes.reversed() {
                    if let fire = instant(day, hour, minute), fire <= date { return fire }
                }
            }
        }
        return nil
    }

    /// Firings in `(after, through]`, oldest first, at most `limit`.
    public func fireTimes(after: Date, through: Date, limit: Int = 10_000) -> [Date] {
        var out: [Date] = []
        var cursor = after
        while out.count < limit, let fire = next(after: cursor), fire <= through {
            out.append(fire)
            cursor = fire
        }
        return out
    }

    private func instant(_ day: CivilDay, _ hour: Int, _ minute: Int) -> Date? {
        let components = DateComponents(year: day.year, month: day.month, day: day.day, hour: hour, minute: minute)
        guard let date = calendar.date(from: components) else { return nil }
        // Foundation moves a time inside a spring-forward gap; keep it on its own day.
        let check = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        if check.hour == hour && check.minute == minute { return date }
        // Nonexistent wall time: fire when the gap ends, i.e. at the first instant whose local hour
        // moved past `hour`.
        return calendar.dateInterval(of: .hour, for: date)?.start
    }
}

/// A calendar day without a time zone, for walking days without DST surprises.
package struct CivilDay {
    package let year: Int, month: Int, day: Int
    /// 0 = Sunday.
    var weekday: Int { ((daysSinceEpoch % 7) + 11) % 7 }
    package let daysSinceEpoch: Int

    init(_ date: Date, _ calendar: Calendar) {
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        self.init(year: c.year!, month: c.month!, day: c.day!)
    }

    package init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        daysSinceEpoch = era * 146_097 + doe - 719_468
    }

    package init(daysSinceEpoch z0: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(year: yoe + era * 400 + (m <= 2 ? 1 : 0), month: m, day: d)
    }

    func adding(days: Int) -> CivilDay { CivilDay(daysSinceEpoch: daysSinceEpoch + days) }
}
