import Foundation
import LockstepCore
import LockstepOperators
import LockstepTestSupport
import Testing

@Suite("TLS verification")
struct TLSVerificationTests {
    @Test("https to a self-signed certificate is refused as tls, not retryable: verification is on by default")
    func selfSigned() async throws {
        let dir = try TestPaths.temporaryDirectory("lockstep-tls")
        let key = dir.appendingPathComponent("key.pem").path
        let cert = dir.appendingPathComponent("cert.pem").path
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0)
        let fastapi = try await FastAPIService.start(arguments: ["--ssl-keyfile", key, "--ssl-certfile", cert])
        defer { fastapi.stop() }
        let error = try await expectFailure("http_health_check", try makeContext(params: ["url": "https://127.0.0.1:\(fastapi.port)/health", "timeout": 10]))
        #expect(error.category == .tls, "\(error)")
        #expect(!error.retryable)
    }
}
