/// `history_packed`: one row per instance and block of history once its day is over (`PackedBlock`,
/// `reports` its entry count; `Store+Packing.swift`), in place of the block's rows in `history`. On PostgreSQL partitioned by UTC
/// day of `block_start` as `history` is (`history_packed_d<days since the epoch>`), so retention drops
/// its days whole too. Existing rows are packed by the next retention pass, not here. **Frozen** once
/// shipped.
enum M0011PackedHistory: Migration {
    static let identifier = "0011-packed-history"
    static let sql = """
        CREATE TABLE history_packed (
            id INTEGER PRIMARY KEY,
            instance_id INTEGER NOT NULL REFERENCES instances(id),
            block_start INTEGER NOT NULL,
            reports INTEGER NOT NULL,
            entries BLOB NOT NULL
        );
        CREATE UNIQUE INDEX history_packed_by_instance ON history_packed(instance_id, block_start);
        """
    static let postgresql: [String]? = [
        """
        CREATE TABLE history_packed (
            instance_id bigint NOT NULL REFERENCES instances(id),
            block_start bigint NOT NULL,
            reports integer NOT NULL,
            entries bytea NOT NULL
        ) PARTITION BY RANGE (block_start)
        """,
        "CREATE UNIQUE INDEX history_packed_by_instance ON history_packed(instance_id, block_start)",
    ]
}
