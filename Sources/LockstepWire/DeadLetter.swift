import Foundation
import LockstepBus
import LockstepCore

/// The data of a dead-letter event: the original record, where it was, who gave up on it and why.
/// Enough to inspect it and, after a fix, to resubmit it (`lockstep deadletters redrive`).
public enum DeadLetter {
    public static func data(original: BusRecord, component: String, reason: String, at: Date) -> JSONValue {
        var headers: [String: JSONValue] = [:]
        for header in original.headers { headers[header.name] = .string(header.stringValue) }
        var o = WireObject()
        o.set("reason", reason)
        o.set("component", component)
        o.set("failed_at", at)
        var record = WireObject()
        record.set("topic", original.position.topic)
        record.set("partition", Int(original.position.partition))
        record.set("offset", original.position.offset)
        record.set("key", original.key)
        record.set("timestamp", original.timestamp)
        record["headers"] = .object(headers)
        if let text = String(validating: original.value, as: UTF8.self) {
            record.set("value", text)
        } else {
            record.set("value_base64", Data(original.value).base64EncodedString())
        }
        o["original"] = record.json
        return o.json
    }
}
