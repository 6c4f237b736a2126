import Crypto
import Foundation

/// The UI's script, style sheet and icon, compiled into the binary (`.embedInCode` in Package.swift):
/// nothing is read from disk or downloaded at run time, and a deployed binary needs no files beside
/// it. Each is served under a name holding its content hash, so browsers may cache it forever and a
/// new build is fetched at once.
struct UIAsset: Sendable {
    var name: String
    var contentType: String
    var bytes: [UInt8]
    /// The first 12 hex digits of the SHA-256 of `bytes`.
    var hash: String

    init(name: String, contentType: String, bytes: [UInt8]) {
        self.name = name
        self.contentType = contentType
        self.bytes = bytes
        hash = SHA256.hash(data: bytes).prefix(6).map { String(format: "%02x", $0) }.joined()
    }

    /// `/ui/assets/lockstep.js?v=<hash>`.
    var path: String { "/ui/assets/\(name)?v=\(hash)" }
}

enum UIAssets {
    static let script = UIAsset(name: "lockstep.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.lockstep_js)
    static let style = UIAsset(name: "lockstep.css", contentType: "text/css; charset=utf-8", bytes: PackageResources.lockstep_css)
    static let icon = UIAsset(name: "favicon.svg", contentType: "image/svg+xml", bytes: PackageResources.favicon_svg)

    static let all: [String: UIAsset] = [script.name: script, style.name: style, icon.name: icon]
}
