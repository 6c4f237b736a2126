import Foundation
import LockstepCore

/// The page shell every page shares: head (style sheet, script, CSRF token), the main navigation
/// (only what the caller's role may use), a skip link, and the live-update status.
enum Layout {
    enum Section: Sendable { case dags, runs, operate, none }

    /// A whole page. `stream` is the one event stream the page follows (nil: none).
    static func page(_ ui: UIRequest?, title: String, section: Section, stream: String? = nil, body: HTML) -> HTML {
        let streamAttribute: HTML = stream.map { " data-stream=\"\($0)\"" } ?? ""
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · Lockstep</title>
            <link rel="stylesheet" href="\(UIAssets.style.path)">
            <link rel="icon" type="image/svg+xml" href="\(UIAssets.icon.path)">
            \(ui.map { ui -> HTML in "<meta name=\"csrf-token\" content=\"\(ui.csrfToken)\">" })
            <script src="\(UIAssets.script.path)" defer></script>
            </head><body\(streamAttribute)>
            <a class="skip" href="#main">Skip to content</a>
            \(ui.map { header($0, section: section, live: stream != nil) })
            <main id="main" tabindex="-1">
            \(body)
            </main>
            <footer>Lockstep \(SystemRoutes.version) · times in UTC</footer>
            </body></html>
            """
    }

    private static func header(_ ui: UIRequest, section: Section, live: Bool) -> HTML {
        func item(_ href: String, _ label: String, _ s: Section) -> HTML {
            "<a href=\"\(href)\"\(s == section ? " aria-current=\"page\"" as HTML : "")>\(label)</a>"
        }
        return """
            <header class="top"><a class="brand" href="\(UILinks.dags)">Lockstep</a>
            <nav aria-label="Main">\(item(UILinks.dags, "DAGs", .dags))\(item(UILinks.runs, "Runs", .runs))\(item(ui.may(.op) ? UILinks.deadLetters : UILinks.pools, "Operate", .operate))</nav>
            <div class="who">\(live ? "<span id=\"live-status\" class=\"live-status\" role=\"status\">static page</span>" as HTML : "")
            <span>\(ui.caller.username) <span class="muted">(\(ui.caller.role.rawValue))</span></span>
            <form class="inline" method="post" action="\(UILinks.logout)">\(ui.csrfField)<button type="submit">Log out</button></form></div>
            </header>
            """
    }

    /// Tabs under a page title; `current` is the href shown as selected.
    static func tabs(_ items: [(href: String, label: String)], current: String, label: String) -> HTML {
        let links = items.map { item -> HTML in
            "<a href=\"\(item.href)\"\(item.href == current ? " aria-current=\"page\"" as HTML : "")>\(item.label)</a>"
        }
        return "<nav class=\"subnav\" aria-label=\"\(label)\">\(links)</nav>"
    }

    /// The Operate section's tabs: pools and health for everyone, the rest for ops.
    static func operateTabs(_ ui: UIRequest, current: String) -> HTML {
        var items: [(String, String)] = []
        if ui.may(.op) {
            items += [(UILinks.deadLetters, "Dead letters"), (UILinks.replay, "Replay"), (UILinks.backfill, "Backfill")]
        }
        items.append((UILinks.pools, "Pools"))
        if ui.may(.op) { items += [(UILinks.variables, "Variables"), (UILinks.connections, "Connections"), (UILinks.audit, "Audit")] }
        items.append((UILinks.health, "Health"))
        return tabs(items.map { (href: $0.0, label: $0.1) }, current: current, label: "Operate")
    }

    /// A message after an action, from a fixed set (never text taken from the URL).
    static func notice(_ ui: UIRequest) -> HTML {
        guard let code = ui.query("done") else { return "" }
        let subject = ui.query("subject") ?? ""
        let text: HTML? = switch code {
        case "paused": "DAG <code>\(subject)</code> paused: no new runs start; running ones finish."
        case "unpaused": "DAG <code>\(subject)</code> unpaused."
        case "redriven": "Dead letter <code>\(subject)</code> published again to its topic."
        case "triggered": "Run <a href=\"\(UILinks.run(subject))\">\(subject)</a> requested."
        case "cancel": "Cancel requested for run <code>\(subject)</code>."
        case "replayed": "Replay published: \(subject) run request(s)."
        case "backfilled": "Backfill published: \(subject) run request(s)."
        default: nil
        }
        guard let text else { return "" }
        return "<div class=\"notice ok\" role=\"status\">\(text)</div>"
    }

    /// `2025-09-18 02:00:00` in a `<time>` element carrying the exact instant.
    static func time(_ date: Date?) -> HTML {
        guard let date else { return "<span class=\"muted\">–</span>" }
        return "<time datetime=\"\(date)\">\(shortDate(date))</time>"
    }

    static func shortDate(_ date: Date) -> String {
        let text = ISO8601.format(date)
        // 2025-09-18T02:00:00.000Z → 2025-09-18 02:00:00
        return String(text.prefix(19)).replacingOccurrences(of: "T", with: " ")
    }

    /// 0.4 s, 12 s, 3 min 5 s, 2 h 4 min.
    static func duration(_ seconds: Double?) -> HTML {
        guard let seconds else { return "<span class=\"muted\">–</span>" }
        return HTML(text: durationText(seconds))
    }

    static func durationText(_ seconds: Double) -> String {
        if seconds < 10 { return HTML.number(seconds) + " s" }
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min \(s % 60) s" }
        return "\(s / 3600) h \((s % 3600) / 60) min"
    }

    /// JSON, pretty-printed, as text.
    static func json(_ value: JSONValue) -> HTML { "<pre>\(value.prettyText)</pre>" }
}
