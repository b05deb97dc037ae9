/// Recognises OOM kills in kernel log lines of old and new kernels and names the victim and its unit:
/// `Out of memory: Killed process 1234 (bundle) …` (new), `Memory cgroup out of memory: Killed process …`,
/// `Killed process 1234 (bundle) …` after `Out of memory: Kill process 1234 (bundle) score … or sacrifice
/// child` (old), and `oom-kill:constraint=…,task_memcg=/system.slice/UNIT,task=NAME,pid=PID,…` (4.19+),
/// which tells the unit of the kill reported next.
public struct OOMKillParser: Sendable {
    public struct Kill: Sendable, Hashable {
        public var pid: Int
        public var process: String
        /// The systemd unit (or scope) the victim ran in, when the kernel said.
        public var unit: String?
    }

    private var unitsByPID: [Int: String] = [:]

    public init() {}

    /// The kill a line reports, if it reports one.
    public mutating func feed(_ text: Substring) -> Kill? {
        if let at = text.firstRange(of: "oom-kill:constraint=") {
            var memcg: Substring?
            var pid: Int?
            for field in text[at.upperBound...].split(separator: ",") {
                if field.hasPrefix("task_memcg=") { memcg = field.dropFirst(11) }
                if field.hasPrefix("pid=") { pid = Int(field.dropFirst(4)) }
            }
            if let pid, let memcg, let unit = memcg.split(separator: "/").last, unit.contains(".") {
                if unitsByPID.count >= 64 { unitsByPID.removeAll() }
                unitsByPID[pid] = String(unit)
            }
            return nil
        }
        guard let at = text.firstRange(of: "Killed process ") else { return nil }
        let rest = text[at.upperBound...]
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        guard let pid = Int(digits) else { return nil }
        var process = "?"
        let afterPID = rest[digits.endIndex...]
        if afterPID.hasPrefix(" ("), let close = afterPID.firstIndex(of: ")") {
            process = String(afterPID[afterPID.index(afterPID.startIndex, offsetBy: 2)..<close].prefix(64))
        }
        return Kill(pid: pid, process: process, unit: unitsByPID.removeValue(forKey: pid))
    }
}
