/// `agents.role`: the part of its instance an agent's host runs (`AgentRole`; `all` for every agent
/// enrolled before), and `host_label`: the label its checks carry in a split instance (`disk@db-1`),
/// empty for `all`. One live agent per instance becomes one per instance and label, so an instance has
/// one agent for the whole or one per host of its parts (`Store+Split.swift`). **Frozen** once shipped.
enum M0012AgentRoles: Migration {
    static let identifier = "0012-agent-roles"
    static let sql = """
        ALTER TABLE agents ADD COLUMN role TEXT NOT NULL DEFAULT 'all'
            CHECK (role IN ('all', 'db', 'redis', 'web', 'sidekiq', 'streaming'));
        ALTER TABLE agents ADD COLUMN host_label TEXT NOT NULL DEFAULT '';
        DROP INDEX agents_one_live_per_instance;
        CREATE UNIQUE INDEX agents_one_live_per_part ON agents(instance, host_label) WHERE state != 'revoked';
        """
    static let postgresql: [String]? = [
        """
        ALTER TABLE agents ADD COLUMN role text NOT NULL DEFAULT 'all'
            CHECK (role IN ('all', 'db', 'redis', 'web', 'sidekiq', 'streaming'))
        """,
        "ALTER TABLE agents ADD COLUMN host_label text NOT NULL DEFAULT ''",
        "DROP INDEX agents_one_live_per_instance",
        "CREATE UNIQUE INDEX agents_one_live_per_part ON agents(instance, host_label) WHERE state != 'revoked'",
    ]
}
