import Foundation

/// The idempotency key of an external effect: the same for every try and redelivery of one task in
/// one run (so the receiver can drop repeats), different for every other task or run.
public enum IdempotencyKey {
    public static func make(dagID: String, runID: String, taskID: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
        allowed.insert(charactersIn: "-._~")
        // Percent-encoding keeps the key a valid header value and keeps `:` unambiguous as the separator.
        let part = { (s: String) in s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s }
        return "lockstep:\(part(dagID)):\(part(runID)):\(part(taskID))"
    }
}
