/// What a pending task should do given its upstream tasks' states.
enum Readiness: Equatable {
    case wait
    case ready
    case skip
    case upstreamFailed
}

extension TriggerRule {
    /// Decides as early as the rule allows (e.g. all_success fails as soon as one upstream fails).
    func evaluate(_ upstream: [TaskState]) -> Readiness {
        if upstream.isEmpty || self == .always { return .ready }
        let total = upstream.count
        let succeeded = upstream.filter { $0 == .succeeded }.count
        let failed = upstream.filter { $0 == .failed || $0 == .upstreamFailed || $0 == .cancelled }.count
        let skipped = upstream.filter { $0 == .skipped }.count
        let done = upstream.filter(\.isTerminal).count
        let allDone = done == total
        switch self {
        case .allSuccess:
            if failed > 0 { return .upstreamFailed }
            if skipped > 0 { return .skip }
            return succeeded == total ? .ready : .wait
        case .allFailed:
            if succeeded > 0 || skipped > 0 { return .skip }
            return allDone ? .ready : .wait
        case .allDone:
            return allDone ? .ready : .wait
        case .oneSuccess:
            if succeeded > 0 { return .ready }
            if !allDone { return .wait }
            return failed > 0 ? .upstreamFailed : .skip
        case .oneFailed:
            if failed > 0 { return .ready }
            return allDone ? .skip : .wait
        case .noneFailed:
            if failed > 0 { return .upstreamFailed }
            return allDone ? .ready : .wait
        case .always:
            return .ready
        }
    }
}
