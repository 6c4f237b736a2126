import Foundation

extension CronSchedule {
    /// The logical dates a scheduler should start runs for at `now`.
    ///
    /// `lastTick` is the newest logical date already ticked (nil if none); `startDate` bounds catch-up
    /// from below. With catchup off only the most recent missed firing is returned (as Airflow's
    /// `catchup=False`); with catchup on, every missed firing, oldest first, at most `limit`.
    public func dueTicks(lastTick: Date?, now: Date, catchup: Bool, startDate: Date? = nil, limit: Int = 1000) -> [Date] {
        guard let latest = previous(atOrBefore: now) else { return [] }
        var lower = lastTick
        if let startDate { lower = max(lower ?? startDate.addingTimeInterval(-1), startDate.addingTimeInterval(-1)) }
        if let lower, latest <= lower { return [] }
        guard catchup, let lower else { return [latest] }
        let missed = fireTimes(after: lower, through: now, limit: Int.max)
        return Array(missed.suffix(limit))
    }
}
