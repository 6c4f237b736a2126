/// Whether a run request may start a run: the one rule the engine applies to every request and the
/// ops path (CLI, API) applies before publishing one, so a user hears at once what a producer that
/// publishes directly learns from a dead letter.
public enum RunAdmission {
    /// The request's conf with the DAG's param defaults applied, or why no run can start: an unknown
    /// DAG, a paused one, or a conf that does not match the DAG's params.
    public static func check(
        _ request: RunRequest, dags: [String: DagSpec], paused: Set<String>
    ) -> Result<JSONValue, Refusal> {
        guard let dag = dags[request.dagID] else {
            return .failure(Refusal(reason: "unknown DAG `\(request.dagID)`; request one of \(dags.keys.sorted().joined(separator: ", "))"))
        }
        if paused.contains(dag.id) {
            return .failure(Refusal(reason: "DAG `\(dag.id)` is paused; unpause it with `lockstep dags unpause \(dag.id)`"))
        }
        switch ParamValidation.resolve(request.conf, against: dag.params) {
        case .success(let resolved): return .success(resolved)
        case .failure(let problems):
            return .failure(Refusal(reason: "conf does not match the params of `\(dag.id)`: \(problems.joined(separator: "; "))"))
        }
    }

    /// Why a request cannot start a run, in words for whoever sent it.
    public struct Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }
}
