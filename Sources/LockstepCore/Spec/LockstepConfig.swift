/// Deployment-wide settings from `config/lockstep.yaml`: pools, variables and connections shared by
/// every DAG (Airflow's Admin > Pools, Variables and Connections).
public struct LockstepConfig: Sendable, Hashable {
    /// Operator packs to load beside the generic operators, e.g. `[noblestride]`; nil when the file
    /// does not say (the shell then loads its default packs).
    public var packs: [String]?
    public var pools: [String: PoolSpec]
    /// Plain values tasks read by name, e.g. `FASTAPI_BASE_URL`.
    public var variables: [String: String]
    /// Connection id → URI, e.g. `noblestride_postgres` → `postgresql://postgres:…@localhost:5436/noblestride`.
    public var connections: [String: String]
    /// Webhooks told about run and task lifecycle events (by `lockstep alerter`), in file order.
    public var alerts: [AlertSpec]
    /// Where each attempt's span is exported (OTLP/HTTP JSON, the full `/v1/traces` URL); nil: none.
    public var otlpTracesEndpoint: String?
    /// At most this many task attempts dispatched and not yet started by a worker, the next place
    /// going to the DAG with the fewest (`dispatch_window`); nil: no limit, every ready task is
    /// dispatched at once. About twice the worker slots keeps workers busy and lets another DAG's
    /// task in ahead of a backlog.
    public var dispatchWindow: Int?

    public init(
        pools: [String: PoolSpec] = [:], variables: [String: String] = [:], connections: [String: String] = [:],
        alerts: [AlertSpec] = [], packs: [String]? = nil
    ) {
        self.packs = packs
        self.pools = pools
        self.variables = variables
        self.connections = connections
        self.alerts = alerts
    }

    /// The default pool every unpooled task would use in Airflow; here unpooled tasks are unlimited.
    public static let empty = LockstepConfig()
}

/// A limit on how many task attempts may hold a slot at once, across all DAGs.
public struct PoolSpec: Sendable, Hashable, Codable {
    public var slots: Int
    public var description: String

    public init(slots: Int, description: String = "") {
        self.slots = slots
        self.description = description
    }
}
