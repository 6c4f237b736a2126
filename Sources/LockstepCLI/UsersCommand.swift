import ArgumentParser
import Foundation
import LockstepHTTP
import LockstepServices

/// `lockstep users add NAME --role ROLE` and `lockstep users list`: the API's users, in the state store.
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Manage the API's users (roles: viewer, user, op, admin).", subcommands: [Add.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user with a generated password, printed once.")
        @OptionGroup var options: RuntimeOptions
        @Argument(help: "The user name.") var name: String
        @Option(help: "viewer (reads), user (also triggers, cancels, pauses), op (also replay, backfill, dead letters, variables, connections) or admin (also users).")
        var role: String

        func run() async throws {
            let parsed: Role
            do { parsed = try Role.parse(role) } catch { throw UsageError("--role: \(error)") }
            try await options.withRuntime(component: "cli") { runtime in
                let users = try await UserDirectory(runtime.store.location)
                let password: String
                do {
                    password = try await UserAdministration.add(name, role: parsed, users: users, ops: OpsActions(runtime: runtime))
                    await users.close()
                } catch {
                    await users.close()
                    if let error = error as? UserDirectoryError { throw UsageError(error.description) }
                    throw error
                }
                print("added \(name) (\(parsed)); password: \(password)")
                print("(shown once; log in with POST /api/v1/auth/token)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each user and role.")
        @OptionGroup var options: RuntimeOptions

        func run() async throws {
            let users = try await UserDirectory(options.storeLocation)
            let all = try await users.users()
            await users.close()
            if all.isEmpty { print("no users (the first start of `lockstep api` or `standalone` creates admin)"); return }
            print(TextTable.render([["USER", "ROLE"]] + all.map { [$0.username, $0.role.rawValue] }))
        }
    }
}
