import Foundation

/// Durations as people write them in config: `30s`, `5m`, `1h30m`, `500ms`, `2d`, or a bare number of seconds.
public enum DurationText {
    public static func parse(_ text: String) -> Duration? {
        let s = text.trimmingCharacters(in: .whitespaces).lowercased()
        if s.isEmpty { return nil }
        if let seconds = Double(s), seconds >= 0, seconds.isFinite { return .milliseconds(Int64((seconds * 1000).rounded())) }
        var total: Duration = .zero
        var number = ""
        var unit = ""
        var parsedAny = false
        func flush() -> Bool {
            guard let value = Double(number), value >= 0 else { return false }
            let ms: Double
            switch unit {
            case "ms": ms = value
            case "s": ms = value * 1000
            case "m": ms = value * 60_000
            case "h": ms = value * 3_600_000
            case "d": ms = value * 86_400_000
            default: return false
            }
            total += .milliseconds(Int64(ms.rounded()))
            number = ""
            unit = ""
            parsedAny = true
            return true
        }
        for ch in s {
            if ch.isNumber || ch == "." {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(ch)
            } else if ch.isLetter {
                guard !number.isEmpty else { return nil }
                unit.append(ch)
            } else {
                return nil
            }
        }
        guard !number.isEmpty, !unit.isEmpty, flush() else { return nil }
        return parsedAny ? total : nil
    }

    /// The shortest text that `parse` reads back to the same duration, e.g. `5m`, `1h30m`, `1.5s`.
    public static func format(_ duration: Duration) -> String {
        var ms = duration.milliseconds
        if ms == 0 { return "0s" }
        var out = ""
        if ms < 0 { out = "-"; ms = -ms }
        let units: [(Int64, String)] = [(86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1000, "s")]
        for (size, name) in units where ms >= size {
            out += "\(ms / size)\(name)"
            ms %= size
        }
        if ms > 0 { out += "\(ms)ms" }
        return out
    }
}

extension Duration {
    /// Whole milliseconds (sub-millisecond parts are dropped).
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    public var timeInterval: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
