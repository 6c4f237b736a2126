/// The one way Lockstep shows a URI that may hold a secret: in log lines, errors, events and responses.
public enum Redacted {
    /// A URI safe to log: `scheme://user@host:port/path`, without password, query or fragment (a query
    /// may carry `password=` or a token). A string that is not a URI shows as `<redacted>`.
    public static func uri(_ uri: String) -> String {
        guard let schemeEnd = uri.range(of: "://") else { return "<redacted>" }
        let scheme = uri[..<schemeEnd.lowerBound]
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }) else {
            return "<redacted>"
        }
        var rest = uri[schemeEnd.upperBound...]
        if let cut = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<cut] }
        // The last `@` ends the userinfo: an unencoded `@` or `/` inside a password must not leak its tail.
        var user: Substring = ""
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            user = userinfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            if user.contains("/") { user = "" }
            rest = rest[rest.index(after: at)...]
        }
        let hostEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let host = rest[..<hostEnd]
        let path = rest[hostEnd...]
        return "\(scheme)://\(user.isEmpty ? "" : "\(user)@")\(host)\(path)"
    }
}
