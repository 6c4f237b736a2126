import Foundation
import Hummingbird
import LockstepCore
import LockstepServices

/// Trigger a DAG: a form generated from the DAG's declared `params` (a typed field for each, its
/// default filled in), or a JSON box when it declares none. The conf is checked as the API checks it
/// (`ParamValidation`, then the ops path's `RunAdmission`); a refusal shows the form again with the
/// reason beside the field.
struct TriggerPage: Sendable {
    let env: APIEnvironment

    func form(_ ui: UIRequest) async throws -> Response {
        let dag = try env.dag(try ui.path("dag_id"))
        return try await page(ui, dag, values: [:], errors: [:], general: [], status: .ok)
    }

    func submit(_ ui: UIRequest) async throws -> Response {
        let dag = try env.dag(try ui.path("dag_id"))
        var values: [String: String] = [:]
        for (name, value) in ui.form.fields { values[name] = value }
        var errors: [String: String] = [:]
        var conf: [String: JSONValue] = [:]
        if dag.params.isEmpty {
            let text = ui.form.text("conf") ?? "{}"
            if let parsed = try? JSONValue.parse(text), case .object(let object) = parsed { conf = object } else {
                errors["conf"] = "must be a JSON object, e.g. {\"key\": \"value\"}"
            }
        } else {
            for name in dag.params.keys.sorted() {
                // An empty field is a param not given: its default applies, or a required one is missing.
                guard let text = ui.form["param." + name], !text.isEmpty else { continue }
                switch Self.value(text, as: dag.params[name]!.type) {
                case .success(let value): conf[name] = value
                case .failure(let error): errors["param." + name] = error.message
                }
            }
        }
        let key = ui.form.text("idempotency_key")
        if let key, key.count > 200 { errors["idempotency_key"] = "must have at most 200 characters" }
        var logicalDate: Date?
        if let text = ui.form.text("logical_date") {
            if let date = ISO8601.parse(text) { logicalDate = date } else { errors["logical_date"] = "must be an RFC 3339 time such as 2025-09-18T02:00:00Z" }
        }
        guard errors.isEmpty else { return try await page(ui, dag, values: values, errors: errors, general: [], status: .unprocessableContent) }
        if try await env.pausedDags().contains(dag.id) {
            return try await page(ui, dag, values: values, errors: [:], general: ["DAG \(dag.id) is paused; unpause it first."], status: .conflict)
        }
        if case .failure(let problems) = ParamValidation.resolve(.object(conf), against: dag.params) {
            return try await page(ui, dag, values: values, errors: [:], general: problems.messages, status: .unprocessableContent)
        }
        let request: RunRequest
        do {
            request = try await env.ops(ui.caller).trigger(dag.id, conf: .object(conf), idempotencyKey: key, logicalDate: logicalDate)
        } catch let refusal as RunAdmission.Refusal {
            return try await page(ui, dag, values: values, errors: [:], general: [refusal.reason], status: .unprocessableContent)
        }
        // The coordinator records the run from the request topic; give it a moment so the grid the
        // browser lands on already has the new column (the page follows it live either way).
        let deadline = ContinuousClock.now + .seconds(5)
        while try await env.runtime.store.run(request.runID) == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        return UIResponse.redirect(UILinks.with(UILinks.dag(dag.id), ["done": "triggered", "subject": request.runID]))
    }

    /// A field's text as the param's type.
    static func value(_ text: String, as kind: ParamSpec.Kind) -> Result<JSONValue, TextError> {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        switch kind {
        case .string: return .success(.string(text))
        case .integer:
            guard let n = Int64(trimmed) else { return .failure(TextError("must be a whole number, e.g. 42")) }
            return .success(.int(n))
        case .number:
            if let n = Int64(trimmed) { return .success(.int(n)) }
            guard let d = Double(trimmed), d.isFinite else { return .failure(TextError("must be a number, e.g. 0.5")) }
            return .success(.double(d))
        case .boolean:
            switch trimmed { case "true": return .success(.bool(true)); case "false": return .success(.bool(false))
            default: return .failure(TextError("must be true or false")) }
        case .object, .array:
            guard let parsed = try? JSONValue.parse(trimmed) else { return .failure(TextError("must be JSON")) }
            if kind == .object, parsed.objectValue == nil { return .failure(TextError("must be a JSON object, e.g. {\"a\": 1}")) }
            if kind == .array, parsed.arrayValue == nil { return .failure(TextError("must be a JSON array, e.g. [1, 2]")) }
            return .success(parsed)
        }
    }

    struct TextError: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    private func page(_ ui: UIRequest, _ dag: DagSpec, values: [String: String], errors: [String: String], general: [String],
                      status: HTTPResponse.Status) async throws -> Response {
        func field(_ name: String, label: HTML, hint: HTML, control: HTML) -> HTML {
            let error = errors[name].map { e -> HTML in "<div class=\"error\" id=\"\(UILinks.anchor(name))-error\" role=\"alert\">\(e)</div>" }
            return "<div class=\"field\">\(label)\(control)<div class=\"hint\">\(hint)</div>\(error)</div>"
        }
        func described(_ name: String) -> HTML {
            errors[name] != nil ? " aria-invalid=\"true\" aria-describedby=\"\(UILinks.anchor(name))-error\"" : ""
        }
        var fields: [HTML] = []
        if dag.params.isEmpty {
            fields.append(field("conf", label: "<label for=\"conf\">Configuration (JSON object)</label>",
                                hint: "This DAG declares no params, so any JSON object is accepted.",
                                control: "<textarea id=\"conf\" name=\"conf\"\(described("conf"))>\(values["conf"] ?? "{}")</textarea>"))
        }
        for name in dag.params.keys.sorted() {
            let spec = dag.params[name]!
            let id = "param-" + UILinks.anchor(name)
            let key = "param." + name
            let given = values[key] ?? spec.default.map { $0.inlineText } ?? ""
            let required: HTML = spec.required ? " <span class=\"muted\">(required)</span>" : ""
            let control: HTML = switch spec.type {
            case .string: "<input type=\"text\" id=\"\(id)\" name=\"\(key)\" value=\"\(given)\"\(spec.required ? " required" as HTML : "")\(described(key))>"
            case .integer: "<input type=\"number\" step=\"1\" id=\"\(id)\" name=\"\(key)\" value=\"\(given)\"\(described(key))>"
            case .number: "<input type=\"number\" step=\"any\" id=\"\(id)\" name=\"\(key)\" value=\"\(given)\"\(described(key))>"
            case .boolean:
                "<select id=\"\(id)\" name=\"\(key)\"\(described(key))>\(spec.required || spec.default != nil ? "" : "<option value=\"\">(not set)</option>" as HTML)<option value=\"true\"\(given == "true" ? " selected" as HTML : "")>true</option><option value=\"false\"\(given == "false" ? " selected" as HTML : "")>false</option></select>"
            case .object, .array: "<textarea id=\"\(id)\" name=\"\(key)\"\(described(key))>\(given)</textarea>"
            }
            let hint: HTML = "\(spec.type.rawValue)\(spec.default.map { d -> HTML in " · default <code>\(d.canonicalJSON())</code>" })\(spec.description.isEmpty ? "" : " · " as HTML)\(spec.description)"
            fields.append(field(key, label: "<label for=\"\(id)\">\(name)\(required)</label>", hint: hint, control: control))
        }
        fields.append(field("idempotency_key", label: "<label for=\"idempotency_key\">Idempotency key</label>",
                            hint: "Optional. The same key twice starts one run (its id is <code>\(dag.id)~KEY</code>).",
                            control: "<input type=\"text\" id=\"idempotency_key\" name=\"idempotency_key\" value=\"\(values["idempotency_key"] ?? "")\"\(described("idempotency_key"))>"))
        fields.append(field("logical_date", label: "<label for=\"logical_date\">Logical date</label>",
                            hint: "Optional, RFC 3339 (e.g. 2025-09-18T02:00:00Z); now when empty.",
                            control: "<input type=\"text\" id=\"logical_date\" name=\"logical_date\" value=\"\(values["logical_date"] ?? "")\" placeholder=\"now\"\(described("logical_date"))>"))
        let problems: HTML = general.isEmpty ? "" : "<div class=\"notice error\" role=\"alert\" id=\"trigger-error\"><p>The run was not started:</p><ul>\(general.map { m -> HTML in "<li>\(m)</li>" })</ul></div>"
        let paused = try await env.pausedDags().contains(dag.id)
        let body: HTML = """
            <p class="muted"><a href="\(UILinks.dags)">DAGs</a> › <a href="\(UILinks.dag(dag.id))">\(dag.id)</a></p>
            <h1>Trigger \(dag.id)</h1>
            <p class="lede">\(dag.description)</p>
            \(paused ? "<div class=\"notice warn\">This DAG is paused: a trigger is refused until it is unpaused.</div>" as HTML : "")
            \(problems)
            <form method="post" action="\(UILinks.trigger(dag.id))" class="panel" id="trigger-form">\(ui.csrfField)
            \(fields)
            <div class="actions"><button type="submit" class="primary" id="trigger-submit">▶ Trigger</button><a class="button" href="\(UILinks.dag(dag.id))">Cancel</a></div>
            </form>
            """
        return UIResponse.html(Layout.page(ui, title: "Trigger \(dag.id)", section: .dags, body: body), status: status, scrub: env.json)
    }
}
