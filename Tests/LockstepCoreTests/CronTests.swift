import Foundation
import Testing

@testable import LockstepCore

private func utc(_ text: String) -> Date { ISO8601.parse(text)! }

@Suite struct CronExpressionTests {
    @Test func fieldsAcceptListsRangesStepsAndNames() throws {
        let cron = try CronExpression("0,15,30-40/5 */6 1-5 JAN-mar MON,wed,5")
        #expect(cron.minutes == [0, 15, 30, 35, 40])
        #expect(cron.hours == [0, 6, 12, 18])
        #expect(cron.daysOfMonth == [1, 2, 3, 4, 5])
        #expect(cron.months == [1, 2, 3])
        #expect(cron.daysOfWeek == [1, 3, 5])
    }

    @Test func sundayIsZeroOrSeven() throws {
        #expect(try CronExpression("0 0 * * 7").daysOfWeek == [0])
        #expect(try CronExpression("0 0 * * SUN").daysOfWeek == [0])
    }

    @Test func stepFromAValueRunsToTheEndOfTheRange() throws {
        #expect(try CronExpression("5/20 * * * *").minutes == [5, 25, 45])
    }

    @Test func macrosExpand() throws {
        #expect(try CronExpression("@daily").hours == [0])
        #expect(try CronExpression("@hourly").minutes == [0])
        #expect(try CronExpression("@weekly").daysOfWeek == [0])
    }

    @Test(arguments: [
        "0 2 * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "*/0 * * * *",
        "5-1 * * * *", "1,,2 * * * *", "x * * * *", "* * * FOO *", "0 0 30 2 *",
    ])
    func invalidExpressionsAreRejected(_ text: String) {
        #expect(throws: CronError.self) { try CronSchedule(text) }
    }
}

@Suite struct CronScheduleTests {
    @Test func seedSchedulesFireWhenTheSeedSays() throws {
        let daily = try CronSchedule("0 2 * * *")
        #expect(daily.next(after: utc("2025-09-18T01:59:59Z")) == utc("2025-09-18T02:00:00Z"))
        #expect(daily.next(after: utc("2025-09-18T02:00:00Z")) == utc("2025-09-19T02:00:00Z"))
        let sixHourly = try CronSchedule("0 */6 * * *")
        #expect(sixHourly.next(after: utc("2025-09-18T14:30:00Z")) == utc("2025-09-18T18:00:00Z"))
        #expect(sixHourly.next(after: utc("2025-12-31T23:00:00Z")) == utc("2026-01-01T00:00:00Z"))
    }

    @Test func dayOfMonthAndDayOfWeekMatchEitherWhenBothAreRestricted() throws {
        // The 13th, or any Friday: 2025-06-06 is a Friday before the 13th.
        let cron = try CronSchedule("0 0 13 * FRI")
        #expect(cron.next(after: utc("2025-06-01T00:00:00Z")) == utc("2025-06-06T00:00:00Z"))
        #expect(cron.next(after: utc("2025-06-06T00:00:00Z")) == utc("2025-06-13T00:00:00Z"))
    }

    @Test func leapDayIsFound() throws {
        let cron = try CronSchedule("0 0 29 2 *")
        #expect(cron.next(after: utc("2025-03-01T00:00:00Z")) == utc("2028-02-29T00:00:00Z"))
    }

    @Test func zonedScheduleFollowsLocalWallClock() throws {
        let berlin = TimeZone(identifier: "Europe/Berlin")!
        let cron = try CronSchedule("0 2 * * *", timeZone: berlin)
        // 02:00 CEST (UTC+2) in summer, 02:00 CET (UTC+1) in winter.
        #expect(cron.next(after: utc("2025-07-01T00:00:00Z")) == utc("2025-07-02T00:00:00Z"))
        #expect(cron.next(after: utc("2025-12-01T12:00:00Z")) == utc("2025-12-02T01:00:00Z"))
    }

    @Test func springForwardGapFiresWhenTheClocksJump() throws {
        // New York skips 02:00–03:00 on 2025-03-09; 02:30 does not exist that day.
        let cron = try CronSchedule("30 2 * * *", timeZone: TimeZone(identifier: "America/New_York")!)
        let fire = cron.next(after: utc("2025-03-09T05:00:00Z"))
        #expect(fire == utc("2025-03-09T07:00:00Z"))  // 03:00 EDT
        #expect(cron.next(after: fire!) == utc("2025-03-10T06:30:00Z"))  // 02:30 EDT the next day
    }

    @Test func fallBackRepeatedHourFiresOnce() throws {
        // New York repeats 01:00–02:00 on 2025-11-02.
        let cron = try CronSchedule("30 1 * * *", timeZone: TimeZone(identifier: "America/New_York")!)
        let first = cron.next(after: utc("2025-11-02T04:00:00Z"))
        #expect(first == utc("2025-11-02T05:30:00Z"))  // 01:30 EDT
        #expect(cron.next(after: first!) == utc("2025-11-03T06:30:00Z"))  // not again at 01:30 EST
    }

    @Test func previousIsTheLastFiringAtOrBefore() throws {
        let cron = try CronSchedule("0 */6 * * *")
        #expect(cron.previous(atOrBefore: utc("2025-09-18T12:00:00Z")) == utc("2025-09-18T12:00:00Z"))
        #expect(cron.previous(atOrBefore: utc("2025-09-18T11:59:00Z")) == utc("2025-09-18T06:00:00Z"))
    }
}

@Suite struct DueTicksTests {
    let cron = try! CronSchedule("0 */6 * * *")

    @Test func catchupOffGivesOnlyTheMostRecentMissedInterval() {
        let due = cron.dueTicks(lastTick: utc("2025-09-17T00:00:00Z"), now: utc("2025-09-18T13:00:00Z"), catchup: false)
        #expect(due == [utc("2025-09-18T12:00:00Z")])
    }

    @Test func catchupOnGivesEveryMissedIntervalOldestFirst() {
        let due = cron.dueTicks(lastTick: utc("2025-09-17T12:00:00Z"), now: utc("2025-09-18T13:00:00Z"), catchup: true)
        #expect(due == ["2025-09-17T18:00:00Z", "2025-09-18T00:00:00Z", "2025-09-18T06:00:00Z", "2025-09-18T12:00:00Z"].map(utc))
    }

    @Test func nothingIsDueWhenTheLatestFiringWasTicked() {
        #expect(cron.dueTicks(lastTick: utc("2025-09-18T12:00:00Z"), now: utc("2025-09-18T17:59:00Z"), catchup: true).isEmpty)
    }

    @Test func catchupStartsAtTheStartDate() {
        let due = cron.dueTicks(lastTick: nil, now: utc("2025-09-18T07:00:00Z"), catchup: true, startDate: utc("2025-09-17T18:00:00Z"))
        #expect(due == ["2025-09-17T18:00:00Z", "2025-09-18T00:00:00Z", "2025-09-18T06:00:00Z"].map(utc))
    }

    @Test func nothingIsDueBeforeTheStartDate() {
        #expect(cron.dueTicks(lastTick: nil, now: utc("2025-09-18T07:00:00Z"), catchup: false, startDate: utc("2025-10-01T00:00:00Z")).isEmpty)
    }
}
