import Foundation
import LockstepCore
import LockstepOperators
import LockstepDrivers

/// `notify_training_complete`: POSTs the `train_model` metadata to FastAPI, retried within the
/// deadline; a 4xx other than 408/429 means the payload is wrong and fails at once, not retryable.
/// The seed's four fields always; a real trainer's `metrics` and `baseline` too when its output has
/// them. With `announce: true` it also publishes `lockstep.model.trained` once FastAPI accepted the
/// model (the real trainer is a `command` task and publishes nothing itself).
struct NotifyTrainingCompleteOperator: TaskOperator {
    static let metadataKeys = ["model_type", "training_samples", "training_timestamp", "model_version"]
    static let evaluationKeys = ["metrics", "baseline"]

    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        let params = try Params(context)
        let delivery = try Delivery(params, defaultAttempts: 3)
        let source = try params.string("source") ?? "train_model"
        let trained = try context.upstreamOutput(source)
        var payload: [String: JSONValue] = [:]
        for key in Self.metadataKeys {
            guard let value = trained[key] else {
                throw .input("task \(params.origin): upstream `\(source)` output lacks `\(key)`")
            }
            payload[key] = value
        }
        for key in Self.evaluationKeys { if let value = trained[key] { payload[key] = value } }
        let key = IdempotencyKey.make(dagID: context.dagID, runID: context.runID, taskID: context.taskID)
        let receipt = try await delivery.post(.object(payload), key: key, context)
        let response = receipt.response.json
        context.taskLogger.info("training-complete delivered", metadata: ["attempts": .stringConvertible(receipt.attempts)])
        var events: [EmittedEvent] = []
        if try params.bool("announce", default: false) {
            var announced = payload
            for field in ["artifact_path", "lift_over_popularity", "evaluated_investors"] { if let value = trained[field] { announced[field] = value } }
            events.append(EmittedEvent(.modelTrained, data: .object(announced), subject: payload["model_version"]?.stringValue))
        }
        return OperatorResult(output: [
            "status": "delivered",
            "url": .string(Redacted.uri(delivery.url.absoluteString)),
            "http_status": .int(Int64(receipt.response.status)),
            "attempts": .int(Int64(receipt.attempts)),
            "idempotency_key": .string(key),
            "duplicate": .bool(response?["duplicate"]?.boolValue ?? false),
            "model_version": payload["model_version"] ?? .null,
            "response": response ?? .null,
        ], events: events)
    }
}

/// `sync_fastapi`: POSTs the seed's sync package. As in the seed, an unhealthy FastAPI or a failed POST
/// does not fail the task; unlike the seed, the output says so (`sync_status`) and a warning is returned.
struct SyncFastAPIOperator: TaskOperator {
    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        let params = try Params(context)
        let delivery = try Delivery(params, defaultAttempts: 1)
        let healthSource = try params.string("health_source") ?? "check_services"
        let healthKey = try params.string("health_key") ?? "fastapi_service"
        let summarySource = try params.string("summary_source") ?? "extract_data"
        let extracted = try context.upstreamOutput(summarySource)
        let entities = EntityCounts(extracted)
        let timestamp = Timestamp.iso(context.now)
        let key = IdempotencyKey.make(dagID: context.dagID, runID: context.runID, taskID: context.taskID)
        let package: JSONValue = [
            "source": .string(try params.string("source_name") ?? "noblestride_database"),
            "table_summary": .object(entities.counts.mapValues { .int($0) }),
            "sync_timestamp": .string(timestamp),
            "total_records": .int(entities.total),
        ]
        var output: [String: JSONValue] = [
            "url": .string(Redacted.uri(delivery.url.absoluteString)),
            "sync_timestamp": .string(timestamp),
            "total_records": .int(entities.total),
            "table_count": .int(Int64(entities.counts.count)),
            "idempotency_key": .string(key),
        ]

        if let health = context.upstream[healthSource]?.objectValue, let state = health[healthKey]?.stringValue, state != "healthy" {
            let reason = "\(healthKey) was \(state) in `\(healthSource)`"
            output["sync_status"] = "skipped"
            output["reason"] = .string(reason)
            context.taskLogger.warning("sync skipped", metadata: ["reason": .string(reason)])
            return OperatorResult(output: .object(output), warnings: ["FastAPI sync skipped: \(reason)"])
        }

        do {
            let receipt = try await delivery.post(package, key: key, context)
            output["sync_status"] = "synced"
            output["http_status"] = .int(Int64(receipt.response.status))
            output["attempts"] = .int(Int64(receipt.attempts))
            output["duplicate"] = .bool(receipt.response.json?["duplicate"]?.boolValue ?? false)
            return OperatorResult(output: .object(output))
        } catch where error.category == .config || error.category == .cancelled {
            throw error
        } catch {
            let status = error.category == .timeout ? "timeout" : "failed"
            output["sync_status"] = .string(status)
            output["reason"] = .string(error.message)
            output["cause"] = .string(error.code)
            if let code = error.httpStatus { output["http_status"] = .int(Int64(code)) }
            context.taskLogger.warning("sync not delivered", metadata: ["status": .string(status), "cause": .string(error.code)])
            return OperatorResult(output: .object(output), warnings: ["FastAPI sync \(status): \(error.message)"])
        }
    }
}
