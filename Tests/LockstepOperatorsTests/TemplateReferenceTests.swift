import Foundation
import LockstepCore
import LockstepOperators
import Testing

@Suite("Templates: connections and upstream outputs")
struct TemplateReferenceTests {
    @Test("{{ conn.NAME }} is the connection's URI; an unknown one is a config error naming the override")
    func connections() throws {
        let context = try makeContext(connections: ["wh": "postgresql://u:pw@h:5432/db"])
        let renderer = TemplateRenderer(context)
        #expect(try renderer.render("DSN={{ conn.wh }}") == "DSN=postgresql://u:pw@h:5432/db")
        #expect {
            try renderer.render("{{ conn.nope }}")
        } throws: { error in
            guard let error = error as? OperatorError else { return false }
            return error.category == .config && error.message.contains("LOCKSTEP_CONN_NOPE")
        }
    }

    @Test("{{ upstream.TASK.FIELD }} walks objects and lists; alone it keeps its JSON type, inside text it is text")
    func upstream() throws {
        let context = try makeContext(upstream: [
            "extract": ["count": 5, "rows": [["id": 7]], "name": "n", "missing": nil],
            "dotted.task": ["v": true],
        ])
        let renderer = TemplateRenderer(context)
        #expect(try renderer.render(JSONValue.string("{{ upstream.extract.count }}")) == 5)
        #expect(try renderer.render(JSONValue.string(" {{upstream.extract.rows.0.id}} ")) == 7)
        #expect(try renderer.render(JSONValue.string("{{ upstream.extract.missing }}")) == .null)
        #expect(try renderer.render(JSONValue.string("{{ upstream.dotted.task.v }}")) == true)
        #expect(try renderer.render(JSONValue.string("{{ upstream.extract.rows }}")) == [["id": 7]])
        #expect(try renderer.render("n={{ upstream.extract.count }} rows={{ upstream.extract.rows }}") == #"n=5 rows=[{"id":7}]"#)
        #expect(try renderer.render(JSONValue.string("{{ upstream.extract.name }}-x")) == "n-x")
    }

    @Test("a missing upstream task or field is an input error saying what is there")
    func missing() throws {
        let renderer = TemplateRenderer(try makeContext(upstream: ["extract": ["count": 5]]))
        for (template, needle) in [("{{ upstream.load.count }}", "upstream outputs: extract"),
                                   ("{{ upstream.extract.total }}", "it has: count"),
                                   ("{{ upstream.extract.count.deeper }}", "no `deeper`")] {
            #expect {
                try renderer.render(JSONValue.string(template))
            } throws: { error in
                guard let error = error as? OperatorError else { return false }
                return error.category == .input && error.message.contains(needle)
            }
        }
    }
}
