/// The version of Herd's binaries, reported by agents in every report and printed by `--version`.
public enum HerdVersion {
    public static let current = "0.1.0"
}
