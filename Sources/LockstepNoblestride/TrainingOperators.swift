import Foundation
import LockstepCore
import LockstepOperators

/// Entity counts found in an extract output: `<name>_count` keys, or a `table_summary` mapping.
struct EntityCounts: Sendable {
    var counts: [String: Int64]
    var total: Int64

    init(_ output: [String: JSONValue]) {
        var counts: [String: Int64] = [:]
        for (key, value) in output where key.hasSuffix("_count") && key != "table_count" {
            if let n = value.intValue { counts[String(key.dropLast("_count".count))] = n }
        }
        if counts.isEmpty, let summary = output["table_summary"]?.objectValue {
            for (table, value) in summary { if let n = value.intValue { counts[table] = n } }
        }
        self.counts = counts
        total = output["total_records"]?.intValue ?? counts.values.reduce(0, +)
    }
}

/// `preprocess`: totals, preprocessing metadata and a data summary from the `extract_data` output
/// (the seed's `preprocess_data`, which did exactly this bookkeeping).
struct PreprocessOperator: TaskOperator {
    static let steps: [JSONValue] = ["retrieve_counts", "calculate_totals", "generate_metadata", "prepare_data_summary"]

    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        let params = try Params(context)
        let source = try params.string("source") ?? "extract_data"
        let extracted = try context.upstreamOutput(source)
        let entities = EntityCounts(extracted)
        guard !entities.counts.isEmpty else {
            throw .input("task \(params.origin): upstream `\(source)` output has no `<table>_count` keys or `table_summary`")
        }
        var output: [String: JSONValue] = ["total_records": .int(entities.total)]
        for (name, count) in entities.counts { output["\(name)_count"] = .int(count) }
        let largest = entities.counts.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key
        var summary: [String: JSONValue] = [
            "entities": .object(entities.counts.mapValues { .int($0) }),
            "entity_types": .int(Int64(entities.counts.count)),
            "ready_for_training": .bool(entities.total > 0),
        ]
        if let largest { summary["largest_entity"] = .string(largest) }
        if entities.total > 0 {
            summary["shares"] = .object(entities.counts.mapValues { .double((Double($0) / Double(entities.total) * 1000).rounded() / 1000) })
        }
        output["data_summary"] = .object(summary)
        output["preprocessing"] = [
            "steps": .array(Self.steps),
            "source_task": .string(source),
            "completed_at": .string(Timestamp.iso(context.now)),
        ]
        let warnings = entities.total > 0 ? [] : ["upstream `\(source)` found no records: nothing to train on"]
        return OperatorResult(output: .object(output), warnings: warnings)
    }
}

/// `train_model`: builds the seed's model metadata from the upstream totals and saves it as a
/// versioned artifact. The version comes from the run's logical date, so a retry of the same run
/// rewrites the same artifact and sends the same notification instead of minting a new model.
struct TrainModelOperator: TaskOperator {
    static let defaultSources = ["preprocess_data", "preprocess", "extract_data"]

    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        let params = try Params(context)
        let modelType = try params.string("model_type") ?? "recommendation_model"
        let source: String
        if let named = try params.string("source") { source = named }
        else if let found = Self.defaultSources.first(where: { context.upstream[$0]?.objectValue != nil }) { source = found }
        else { throw .input("task \(params.origin): no upstream output with totals; expected one of \(Self.defaultSources.joined(separator: ", ")) or a `source` param") }
        let samples = EntityCounts(try context.upstreamOutput(source)).total

        let version = "v" + Timestamp.compact(context.logicalDate)
        let metadata: [String: JSONValue] = [
            "model_type": .string(modelType),
            "training_samples": .int(samples),
            "training_timestamp": .string(Timestamp.iso(context.now)),
            "model_version": .string(version),
        ]
        let artifact = context.dataDirectory.appendingPathComponent("models").appendingPathComponent("\(version).json")
        var stored = metadata
        stored["dag_id"] = .string(context.dagID)
        stored["run_id"] = .string(context.runID)
        stored["source_task"] = .string(source)
        try AtomicFile.write(json: .object(stored), to: artifact)

        var output = metadata
        output["artifact_path"] = .string(artifact.path)
        var eventData = output
        eventData["dag_id"] = .string(context.dagID)
        eventData["run_id"] = .string(context.runID)
        context.taskLogger.info("model trained", metadata: ["version": .string(version), "samples": .stringConvertible(samples)])
        let warnings = samples > 0 ? [] : ["trained on 0 samples"]
        return OperatorResult(output: .object(output), warnings: warnings,
                              events: [EmittedEvent(.modelTrained, data: .object(eventData), subject: version)])
    }
}
