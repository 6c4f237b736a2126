import LockstepCore

/// Operator names, as written in DAG files, mapped to their implementations: the generic pack plus
/// the packs a deployment loads.
public struct OperatorRegistry: Sendable {
    private var operators: [String: any TaskOperator]
    /// The packs loaded, in load order (generic first).
    public private(set) var packs: [String]

    public init(_ operators: [String: any TaskOperator] = [:]) {
        self.operators = operators
        packs = []
    }

    /// The generic operators and those of `packs`; a later pack's operator replaces an earlier one's.
    public init(packs: [OperatorPack]) {
        self.init()
        for pack in [OperatorPack.generic] + packs where !self.packs.contains(pack.name) {
            operators.merge(pack.operators) { _, new in new }
            self.packs.append(pack.name)
        }
    }

    /// The names the DAG loader accepts.
    public var names: Set<String> { Set(operators.keys) }

    public subscript(name: String) -> (any TaskOperator)? { operators[name] }

    /// A copy with `op` registered under `name` (tests and plug-ins).
    public func registering(_ name: String, _ op: any TaskOperator) -> OperatorRegistry {
        var copy = self
        copy.operators[name] = op
        return copy
    }

    /// Runs the operator named `name`, turning an unknown name or an escaped cancellation into an
    /// `OperatorError`; a failure's message is masked with the context's secrets, whichever operator wrote it.
    public func run(_ name: String, _ context: OperatorContext) async -> Result<OperatorResult, OperatorError> {
        guard let op = operators[name] else {
            return .failure(.config("unknown operator '\(name)' for task \(context.dagID).\(context.taskID)"))
        }
        do {
            return .success(try await op.run(context))
        } catch {
            return .failure(context.secrets.apply(error))
        }
    }
}
