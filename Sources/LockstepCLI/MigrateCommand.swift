import ArgumentParser
import Foundation
import LockstepServices

/// `lockstep migrate [--dry-run]`: brings the state store's schema up to date, or lists what that
/// would apply. Components migrate by themselves when they start; this is for doing it ahead of an
/// upgrade, or seeing where a database stands. Needs the store only: no config, no bus.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the state store's pending schema migrations (components also apply them when they start).")
    @OptionGroup var store: StoreOptions
    @Flag(help: "List the pending migrations and change nothing.") var dryRun = false

    func run() async throws {
        let location = store.storeLocation
        let status = dryRun ? try await StoreSchema.status(of: location) : try await StoreSchema.migrate(location)
        if status.isNewerThanSupported {
            throw StateStoreError.schemaTooNew(store: status.store, found: status.version, supported: status.supported)
        }
        if dryRun {
            var line = "state store \(status.store): schema version \(status.version)"
            if status.unrecorded { line += " (made before versioned migrations: adopted as version 1 without changing a table)" }
            print(line + ", this Lockstep knows version \(status.supported)")
            if status.pending.isEmpty {
                print("nothing to migrate")
            } else {
                print("pending:")
                for step in status.pending { print("  \(step.version)  \(step.name)") }
            }
            return
        }
        for step in status.appliedNow {
            if step.version == 1 && status.adoptedNow {
                print("adopted \(step.version)  \(step.name) (the tables an earlier release made, unchanged)")
            } else {
                print("applied \(step.version)  \(step.name)")
            }
        }
        let what = status.appliedNow.isEmpty ? "already up to date" : "now up to date"
        print("state store \(status.store): schema version \(status.version), \(what)")
    }
}
