import ArgumentParser
import Foundation
import LockstepCore
import LockstepHTTP
import LockstepServices
import ServiceLifecycle

/// `lockstep api`: the REST API and /metrics over the shared bus and state store. Any number may run.
struct APICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api", abstract: "Serve the REST API (/api/v1) and Prometheus metrics (/metrics) over the bus and the state store.")
    @OptionGroup var options: RuntimeOptions
    @Option(name: .customLong("http"), help: "Listen on HOST:PORT. Env: LOCKSTEP_HTTP.") var http: String?

    func run() async throws {
        try await options.withRuntime(component: "api") { runtime in
            let server = try await makeAPIServer(runtime, options: options, http: http)
            runtime.logger.info("api: listening on \(server.configuration.host):\(server.configuration.port), state \(runtime.store.location)")
            try await runServices([server], logger: runtime.logger)
        }
    }
}

/// The API server for `lockstep api` and `lockstep standalone`: the address from --http (or
/// LOCKSTEP_HTTP, default 127.0.0.1:8080), the token secret from LOCKSTEP_API_SECRET; creates the
/// first admin when there are no users and prints its generated password once.
func makeAPIServer(_ runtime: Runtime, options: RuntimeOptions, http: String?, optional: Bool = false) async throws -> APIServer {
    let env = ProcessInfo.processInfo.environment
    let address: (host: String, port: Int)
    do { address = try APIServer.Configuration.parseAddress(http ?? environment("LOCKSTEP_HTTP") ?? "127.0.0.1:8080") } catch {
        throw UsageError("--http: \(error)")
    }
    // `standalone` on the default address keeps its pipelines running when the port is taken.
    let explicit = http != nil || environment("LOCKSTEP_HTTP") != nil
    let configuration = APIServer.Configuration(
        host: address.host, port: address.port, secret: environment("LOCKSTEP_API_SECRET"), bindFailureIsFatal: explicit || !optional,
        dagsDirectory: options.configuration.dags)
    let fileConfig = try? DeploymentFiles.readConfig(URL(fileURLWithPath: options.configuration.config))
    let server = try await APIServer(runtime: runtime, configuration: configuration, environment: env, fileConfig: fileConfig)
    do {
        let (created, generated) = try await UserAdministration.ensureFirstAdmin(server.users, environment: env, now: runtime.clock.now)
        if let generated {
            // Unbuffered: whoever reads the pipe sees it at once, and it is printed only this once.
            FileHandle.standardOutput.write(Data("admin password: \(generated)\n".utf8))
        } else if created {
            runtime.logger.info("created user admin with the password from LOCKSTEP_ADMIN_PASSWORD")
        }
    } catch let error as UserDirectoryError {
        throw UsageError(error.description)
    }
    return server
}
