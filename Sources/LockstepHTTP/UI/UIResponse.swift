import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The responses UI routes give, each with the same security headers: a Content-Security-Policy that
/// lets only this server's own script, style and images run (`script-src 'self'`: no inline script,
/// no inline event handler, no `javascript:` URL; `style-src 'self'`: no injected style either), no
/// framing, no MIME sniffing, and nothing cached that a shared machine could show the next person.
enum UIResponse {
    static let contentSecurityPolicy = [
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
        "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'",
    ].joined(separator: "; ")

    static func headers(contentType: String, cache: String = "no-store") -> HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = cache
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.xFrameOptions] = "DENY"
        headers[.referrerPolicy] = "same-origin"
        return headers
    }

    static func html(_ html: HTML, status: HTTPResponse.Status = .ok, scrub: JSONIO) -> Response {
        // Defence in depth behind Redacted.uri, as the JSON responses have: a configured secret that
        // reached a page by a path nobody foresaw (an operator's message quoting a URI) is masked.
        Response(status: status, headers: headers(contentType: "text/html; charset=utf-8"),
                 body: .init(byteBuffer: ByteBuffer(string: scrub.scrub(html.rendered))))
    }

    /// 303 See Other: after a form post the browser GETs the page, so a reload never posts twice.
    static func redirect(_ location: String) -> Response {
        var headers = headers(contentType: "text/plain; charset=utf-8")
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }

    static func asset(_ asset: UIAsset, versioned: Bool) -> Response {
        // A request naming the current hash may be cached for good; any other gets this build's bytes
        // but must ask again, so a stale page never pins an old script.
        let cache = versioned ? "public, max-age=31536000, immutable" : "no-cache"
        return Response(status: .ok, headers: headers(contentType: asset.contentType, cache: cache),
                        body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }

    /// A file name for Content-Disposition: letters, digits, `.`, `_`, `-`; anything else `_`.
    static func safeFilename(_ name: String) -> String {
        String(name.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0) ? Character($0) : "_" })
    }
}

extension HTTPField.Name {
    static let serverTiming = HTTPField.Name("Server-Timing")!
    static let fragmentRequest = HTTPField.Name("X-Lockstep-Fragment")!
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}
