import Foundation
import LockstepCore

/// A fragment of HTML that is safe by construction: literal text written in this module is markup,
/// and every `String` interpolated into it is escaped. So a DAG description, a conf value, an error
/// message, a dead-letter payload or a log line can only ever become text, never markup, and no page
/// can forget to escape one: an unescaped string has no way in but `HTML(trusted:)`, which only takes
/// markup this module wrote.
///
/// Chosen over a template engine (swift-mustache): pages are Swift functions over typed values, so the
/// compiler checks every field a page shows, nothing is looked up by name at run time, no template
/// files ship beside the binary, and escaping is the type's default rather than a `{{ }}` convention.
struct HTML: Sendable, Hashable, ExpressibleByStringInterpolation, CustomStringConvertible {
    private(set) var rendered: String

    init() { rendered = "" }
    init(stringLiteral value: String) { rendered = value }
    init(stringInterpolation: StringInterpolation) { rendered = stringInterpolation.output }

    /// Markup this module produced some other way (an embedded asset, a rendered SVG). Never pass a
    /// string that came from outside.
    init(trusted markup: String) { rendered = markup }

    /// Text shown as text: `&`, `<`, `>`, `"` and `'` become entities, so the result is safe both as
    /// element content and inside a quoted attribute value.
    init(text: String) { rendered = HTML.escape(text) }

    var description: String { rendered }
    var isEmpty: Bool { rendered.isEmpty }

    static func + (a: HTML, b: HTML) -> HTML { HTML(trusted: a.rendered + b.rendered) }
    static func += (a: inout HTML, b: HTML) { a.rendered += b.rendered }

    /// The one escaping function: for text content and double- or single-quoted attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            // Controls other than tab, newline and return have no business in a page; a NUL or an
            // escape sequence from a log line shows as the replacement character.
            case "\u{0}"..."\u{8}", "\u{B}", "\u{C}", "\u{E}"..."\u{1F}", "\u{7F}": out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    struct StringInterpolation: StringInterpolationProtocol {
        var output = ""

        init(literalCapacity: Int, interpolationCount: Int) { output.reserveCapacity(literalCapacity + interpolationCount * 16) }

        mutating func appendLiteral(_ literal: String) { output += literal }
        /// Text: escaped.
        mutating func appendInterpolation(_ text: String) { output += HTML.escape(text) }
        mutating func appendInterpolation(_ text: Substring) { output += HTML.escape(String(text)) }
        /// Optional text: escaped, nothing for nil.
        mutating func appendInterpolation(_ text: String?) { if let text { output += HTML.escape(text) } }
        /// Markup: as it is.
        mutating func appendInterpolation(_ html: HTML) { output += html.rendered }
        mutating func appendInterpolation(_ html: HTML?) { if let html { output += html.rendered } }
        mutating func appendInterpolation(_ parts: [HTML]) { for part in parts { output += part.rendered } }
        mutating func appendInterpolation<T: BinaryInteger>(_ number: T) { output += String(number) }
        /// A number for SVG coordinates: at most two decimals, never an exponent.
        mutating func appendInterpolation(_ number: Double) { output += HTML.number(number) }
        mutating func appendInterpolation(_ date: Date) { output += HTML.escape(ISO8601.format(date)) }
    }

    /// `1.5`, `12`, `0.33`: short, locale-free, finite.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let rounded = (value * 100).rounded() / 100
        if rounded == rounded.rounded() { return String(Int64(rounded)) }
        return String(format: "%.2f", rounded).replacingOccurrences(of: #"0+$"#, with: "", options: .regularExpression)
    }
}

extension Array where Element == HTML {
    func joined(separator: HTML = "") -> HTML {
        var out = HTML()
        for (i, part) in enumerated() {
            if i > 0 { out += separator }
            out += part
        }
        return out
    }
}
