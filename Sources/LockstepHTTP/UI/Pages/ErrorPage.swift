import Foundation
import Hummingbird

/// A problem (the same ones the API answers with) as a page: its status, title and what to do.
enum ErrorPage {
    static func render(_ problem: Problem, caller ui: UIRequest?, env: APIEnvironment) -> Response {
        if ui?.isFragment == true {
            // The page script shows nothing of an error page inside a region; it reads the status.
            return UIResponse.html(HTML(text: problem.detail), status: problem.status, scrub: env.json)
        }
        let body: HTML = """
            <h1>\(problem.title)</h1>
            <div class="notice error" role="alert"><p>\(problem.detail)</p>
            <p class="muted">HTTP \(problem.status.code) · <code>\(problem.kind)</code>\(problem.field.map { f -> HTML in " · field <code>\(f)</code>" })</p></div>
            <p><a href="\(UILinks.dags)">Back to the DAGs</a></p>
            """
        return UIResponse.html(Layout.page(ui, title: problem.title, section: .none, body: body), status: problem.status, scrub: env.json)
    }
}
