import Foundation
import LockstepServices

/// A package's own deployment (`config/lockstep.yaml` and `config/dags/`) read the way a component
/// reads it, with the variables and connections a test points at its own services set as
/// `LOCKSTEP_VAR_<NAME>` and `LOCKSTEP_CONN_<NAME>` would set them. Nothing else of the test
/// process's environment applies, so the result is the same wherever the tests run.
public enum SeedDeployment {
    public static func load(root: URL, variables: [String: String] = [:], connections: [String: String] = [:]) throws -> Deployment {
        var environment: [String: String] = [:]
        for (name, value) in variables { environment["LOCKSTEP_VAR_\(name.uppercased())"] = value }
        for (name, value) in connections { environment["LOCKSTEP_CONN_\(name.uppercased())"] = value }
        return try DeploymentFiles.load(
            config: root.appendingPathComponent("config/lockstep.yaml"), dags: root.appendingPathComponent("config/dags"),
            environment: environment)
    }
}
