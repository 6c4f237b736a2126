import Foundation
import LockstepCore
import Testing

@testable import LockstepHTTP

/// The UI's pure pieces: escaping, forms, links, and the value conversions a trigger form makes.
@Suite struct UIRenderingTests {
    @Test func interpolatedTextIsEscapedAndLiteralMarkupIsNot() {
        let hostile = "<script>alert(1)</script> & \"quoted\" 'single' <img src=x onerror=alert(1)>"
        let html: HTML = "<td title=\"\(hostile)\">\(hostile)</td>"
        #expect(html.rendered == "<td title=\"&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot; &#39;single&#39; &lt;img src=x onerror=alert(1)&gt;\">"
            + "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot; &#39;single&#39; &lt;img src=x onerror=alert(1)&gt;</td>")
        let inner: HTML = "<b>\("x<y")</b>"
        let outer: HTML = "<p>\(inner)</p>"
        #expect(outer.rendered == "<p><b>x&lt;y</b></p>")
        #expect(HTML.escape("a\u{0}b\u{1B}[31mc\td\ne") == "a\u{FFFD}b\u{FFFD}[31mc\td\ne")
        let none: String? = nil
        #expect(("[\(none)]" as HTML).rendered == "[]")
    }

    @Test func numbersForSVGAreShortAndFinite() {
        #expect(HTML.number(12) == "12")
        #expect(HTML.number(1.5) == "1.5")
        #expect(HTML.number(0.333) == "0.33")
        #expect(HTML.number(.nan) == "0")
        #expect(HTML.number(-2.10) == "-2.1")
    }

    @Test func formBodiesDecodePlusAndPercentAndKeepTheLastValue() {
        let form = UIForm.parse("param.model_type=%3Cscript%3Ealert(1)%3C%2Fscript%3E&q=two+words&a=1&a=2&empty=&flag")
        #expect(form["param.model_type"] == "<script>alert(1)</script>")
        #expect(form["q"] == "two words")
        #expect(form["a"] == "2")
        #expect(form["empty"] == "" && form.text("empty") == nil)
        #expect(form["flag"] == "")
        #expect(form["missing"] == nil)
    }

    @Test func linksEncodeIdsAsOneSegmentAndNextStaysOnThisServer() {
        #expect(UILinks.run("dag~key/with@odd:chars") == "/runs/dag~key%2Fwith%40odd%3Achars")
        #expect(UILinks.with("/dags", ["q": "a b&c", "tags": nil]) == "/dags?q=a%20b%26c")
        #expect(UILinks.safeNext("/dags/x?cursor=1") == "/dags/x?cursor=1")
        for hostile in ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "/ok\r\nSet-Cookie: x=1", nil] {
            #expect(UILinks.safeNext(hostile) == UILinks.dags)
        }
        #expect(UILinks.anchor("train_model") == "train_model")
        #expect(UILinks.anchor("a b\"<") == "a-b--")
    }

    @Test func triggerFormTextBecomesTheParamsType() throws {
        #expect(try TriggerPage.value("42", as: .integer).get() == .int(42))
        #expect(try TriggerPage.value("0.5", as: .number).get() == .double(0.5))
        #expect(try TriggerPage.value("true", as: .boolean).get() == .bool(true))
        #expect(try TriggerPage.value(" <x> ", as: .string).get() == .string(" <x> "))
        #expect(try TriggerPage.value("{\"a\": [1]}", as: .object).get() == .object(["a": .array([.int(1)])]))
        for (text, kind) in [("4.5", ParamSpec.Kind.integer), ("lots", .number), ("yes", .boolean), ("[1]", .object), ("{}", .array), ("{", .object)] {
            guard case .failure(let error) = TriggerPage.value(text, as: kind) else {
                Issue.record("`\(text)` was taken as \(kind)")
                continue
            }
            #expect(error.message.hasPrefix("must be"))
        }
    }

    @Test func theDagFileIsFoundByItsDeclaredID() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ui-dagfiles-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "# a comment\nid: other_name   # renamed\ntasks: []\n".write(to: dir.appendingPathComponent("file.yaml"), atomically: true, encoding: .utf8)
        try "id: \"quoted\"\n".write(to: dir.appendingPathComponent("q.yml"), atomically: true, encoding: .utf8)
        let files = DagFiles(directory: dir.path)
        #expect(files.source(of: "other_name")?.text.hasPrefix("# a comment") == true)
        #expect(files.source(of: "quoted") != nil)
        #expect(files.source(of: "absent") == nil)
        #expect(DagFiles(directory: nil).source(of: "other_name") == nil)
    }

    @Test func everyPageCarriesAPolicyThatAllowsOnlyThisServersScript() {
        let policy = UIResponse.contentSecurityPolicy
        #expect(policy.contains("script-src 'self'") && policy.contains("default-src 'none'"))
        #expect(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"))
        #expect(UIResponse.headers(contentType: "text/html")[.contentSecurityPolicy] == policy)
        // The assets are in the binary and named by their content.
        #expect(UIAssets.script.bytes.count > 1000 && UIAssets.script.hash.count == 12)
        #expect(UIAssets.script.path == "/ui/assets/lockstep.js?v=\(UIAssets.script.hash)")
    }
}
