import LockstepCore

/// How a run or task state looks: a colour (the CSS class), and always a glyph and a word as well, so
/// colour is never the only sign (a reader who cannot tell red from green, a screen reader, a
/// grey-scale print all get the state).
struct StateStyle: Sendable, Hashable {
    /// `st-succeeded`, …: the CSS class and its colour.
    var cssClass: String
    /// One character drawn in squares and grid cells.
    var glyph: String
    /// The state's name as Airflow users know it.
    var label: String

    init(_ state: String) {
        label = state.replacingOccurrences(of: "_", with: " ")
        cssClass = "st-" + state
        glyph = switch state {
        case "succeeded", "success": "✓"
        case "failed": "✗"
        case "running": "▶"
        case "queued": "…"
        case "scheduled": "→"
        case "up_for_retry": "↻"
        case "upstream_failed": "!"
        case "skipped": "»"
        case "cancelled": "⊘"
        case "pending": "○"
        case "requested": "…"
        default: "?"
        }
    }

    init(_ state: RunState) { self.init(state.rawValue) }
    init(_ state: TaskState) { self.init(state.rawValue) }

    /// A badge with glyph and word: `<span class="badge st-failed">✗ failed</span>`.
    var badge: HTML { "<span class=\"badge \(cssClass)\"><span aria-hidden=\"true\">\(glyph)</span> \(label)</span>" }
}
