import LockstepCore

/// Operator names, as written in DAG files, mapped to their implementations: the generic pack plus
/// the packs a deployment loads.
public struct OperatorRegistry: Sendable {
    private var operators: [String: any TaskOperator]
    private var queues: [String: TaskQueue] = [:]
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
            for name in pack.operators.keys { queues[name] = pack.defaultQueues[name] }
            self.packs.append(pack.name)
        }
    }

    /// The names the DAG loader accepts.
    public var names: Set<String> { Set(operators.keys) }

    public subscript(name: String) -> (any TaskOperator)? { operators[name] }

    /// The queue a task of this operator runs on when its DAG file names none (`tasks` unless its pack says).
    public func defaultQueue(for name: String) -> TaskQueue { queues[name] ?? .tasks }

    /// A copy with `op` registered under `name` (tests and plug-ins), run on `queue` by default.
    public func registering(_ name: String, _ op: any TaskOperator, queue: TaskQueue? = nil) -> OperatorRegistry {
        var copy = self
        copy.operators[name] = op
        copy.queues[name] = queue
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
