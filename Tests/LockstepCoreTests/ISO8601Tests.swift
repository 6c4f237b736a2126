import Foundation
import LockstepTestSupport
import Testing

@testable import LockstepCore

/// `ISO8601.parse` reads a whole second in UTC by hand; it must give the very `Date` Foundation's
/// format styles give, and leave everything else to them.
@Suite struct ISO8601Tests {
    /// What `ISO8601.parse` was before the hand-read form: Foundation's format styles alone.
    static func foundation(_ text: String) -> Date? {
        if let d = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return d }
        if let d = try? Date.ISO8601FormatStyle().parse(text) { return d }
        if let d = try? Date.ISO8601FormatStyle().year().month().day().parse(text) { return d }
        return nil
    }

    @Test func wholeSecondsReadByHandAreTheDatesFoundationReads() throws {
        var random = SplitMix64(seed: 0x1508_6010)
        let edges = ["1900-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "2000-12-31T23:59:59Z", "2001-01-01T00:00:00Z",
                     "2024-02-29T12:00:00Z", "2100-02-28T23:59:59Z", "2000-02-29T00:00:00Z", "9999-12-31T23:59:59Z"]
        // Any second from 1900 to 9999, as `ISO8601.format` writes it.
        let randoms = (0..<20_000).map { _ in
            ISO8601.format(Date(timeIntervalSince1970: Double(Int64.random(in: -2_208_988_800...253_402_300_799, using: &random))))
        }
        for text in edges + randoms {
            let byHand = try #require(ISO8601.wholeSecondUTC(text), "\(text)")
            let expected = try #require(Self.foundation(text), "\(text)")
            #expect(byHand.timeIntervalSinceReferenceDate.bitPattern == expected.timeIntervalSinceReferenceDate.bitPattern, "\(text)")
        }
    }

    @Test func everyOtherFormIsLeftToFoundationAndReadsAsBefore() {
        let others = ["2025-02-29T00:00:00Z", "2025-04-31T10:00:00Z", "2025-09-18T24:00:00Z", "2025-09-18T02:60:00Z",
                      "2025-09-18T02:00:60Z", "1899-12-31T23:59:59Z", "2025-09-18T02:00:00.123Z", "2025-09-18T02:00:00+02:00",
                      "2025-09-18", "2025-09-18t02:00:00z", "2025-9-18T02:00:00Z", " 2025-09-18T02:00:00Z", "2025-09-18T02:00:00ZZ",
                      "abcd-ef-ghTij:kl:mnZ", "2025-00-10T00:00:00Z", "2025-09-00T00:00:00Z", ""]
        for text in others {
            #expect(ISO8601.wholeSecondUTC(text) == nil, "\(text)")
            #expect(ISO8601.parse(text) == Self.foundation(text), "\(text)")
        }
    }
}
