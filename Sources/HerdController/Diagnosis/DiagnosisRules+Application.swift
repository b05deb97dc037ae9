import HerdProtocol

extension DiagnosisRules {
    /// Mastodon's own processing, its configuration, the API the probe sees, and the host's limits;
    /// last, the errors no other cause covers.
    static let application: [DiagnosisRule] = [
        DiagnosisRule(
            id: "media_broken", explains: web.union(["media"]),
            needs:
                "media tools missing or the media directory not writable: the media check, or those errors in the logs",
            match: { e in
                let lines = e.findings(.mediaProcessing) + e.findings(.permissionDenied)
                // The media check failing explains the media check; a web check needs its own errors to be
                // media's (an unreadable .env.production failing the HTTP check is not media's fault).
                if e.checkID == "media", e.status("media") == .critical { return lines + e.summary("media") }
                return lines.nilIfEmpty
            },
            cause: { _ in "Media processing is broken: a media tool is missing or the media directory is not writable"
            },
            nextStep:
                "Install ffmpeg and libvips (or ImageMagick before 4.4); chown -R mastodon:mastodon the media directory (public/system)",
            action: nil),
        DiagnosisRule(
            id: "database_encoding", explains: web.union(["postgresql"]),
            needs: "`encoding_error` findings: the database is not UTF8",
            match: { e in e.findings(.encodingError).nilIfEmpty },
            cause: { _ in "The database is not UTF8: posts with characters outside its encoding fail" },
            nextStep:
                "Dump the database and restore it into a new UTF8 database (pg_dump, createdb -E UTF8, pg_restore)",
            action: nil),
        DiagnosisRule(
            id: "object_storage", explains: web.union(["media"]),
            needs: "`object_storage` findings (Aws::S3 errors, Storage server error)",
            match: { e in e.findings(.objectStorage).nilIfEmpty },
            cause: { _ in "The object storage answers with errors: media uploads and posts with media fail" },
            nextStep:
                "Check the storage provider's status and the S3_* credentials; when other instances on the same endpoint fail too, it is the provider's incident",
            action: nil),
        DiagnosisRule(
            id: "config_broken", explains: web.union(["mastodon.config"]),
            needs:
                "the mastodon.config check critical (.env.production unreadable or broken), or `config_error` findings",
            match: { e in
                let lines = e.findings(.configError)
                return e.status("mastodon.config") == .critical
                    ? e.summary("mastodon.config") + lines : lines.nilIfEmpty
            },
            cause: { e in
                e.status("mastodon.config") == .critical
                    ? "Mastodon's configuration cannot be read: .env.production is missing, unreadable or broken"
                    : "A configuration is wrong: a required setting is missing or a secret does not decrypt"
            },
            nextStep:
                "Fix .env.production (owner mastodon, mode 0600, one KEY=value per line) and restart web, Sidekiq and streaming to load it",
            action: nil),
        DiagnosisRule(
            id: "search_engine", explains: ["logs", "sidekiq"],
            needs: "`search_engine` findings: Elasticsearch or OpenSearch unreachable or refusing",
            match: { e in e.findings(.searchEngine).nilIfEmpty },
            cause: { _ in "The search engine is unreachable or refuses writes: search fails and indexing jobs retry" },
            nextStep:
                "Check Elasticsearch/OpenSearch (systemctl status, GET /_cluster/health on ES_HOST:ES_PORT); after a full disk, clear the read-only block (index.blocks.read_only_allow_delete)",
            action: nil),
        DiagnosisRule(
            id: "mail_delivery", explains: ["logs", "sidekiq"],
            needs: "`mail_delivery` findings: the SMTP server refuses or cannot be reached",
            match: { e in e.findings(.mailDelivery).nilIfEmpty },
            cause: { _ in "Mail cannot be sent: confirmations, password resets and notifications are not delivered" },
            nextStep:
                "Check SMTP_SERVER, SMTP_PORT, SMTP_LOGIN and SMTP_PASSWORD in .env.production against the provider and its status page; the mailer jobs retry by themselves once it accepts",
            action: nil),
        DiagnosisRule(
            id: "rails_exception", explains: web.union(["sidekiq"]),
            needs:
                "`app_error` findings: exceptions in Mastodon's own code (HTTP 500 of an unknown class, a job raising one)",
            match: { e in
                (e.findings(.appError)
                    + e.findings(FindingCategory("api_server_error")) { $0.signature.hasSuffix("rails_500") })
                    .nilIfEmpty
            },
            cause: { e in
                let classes = e.found(.appError).map { $0.finding.signature }
                    .map { $0.hasPrefix("HTTP 500 ") ? String($0.dropFirst("HTTP 500 ".count)) : $0 }
                return classes.isEmpty
                    ? "Rails answers 500: an exception in Mastodon's code, not a missing dependency"
                    : "Mastodon raises \(Set(classes).sorted().joined(separator: ", ")): an exception in its own code, not a missing dependency"
            },
            nextStep:
                "Read the exception's backtrace in the log (journalctl -u mastodon-web or -sidekiq, the request id of the 500); search Mastodon's issues for the class; a restart helps only with a stuck state",
            action: nil),
        DiagnosisRule(
            id: "canary_token", explains: ["mastodon.api_probe"],
            needs: "the API probe answered 401: the canary's token",
            match: { e in e.findings(FindingCategory("api_reconnect")).nilIfEmpty },
            cause: { _ in "The canary account's token is no longer valid; the instance itself answered" },
            nextStep: "Issue the canary account a new token and write it to api_probe.token_file (mode 0600)",
            action: nil),
        DiagnosisRule(
            id: "canary_refused", explains: ["mastodon.api_probe"],
            needs: "the API probe answered 403 or 422: the canary account or its request is refused",
            match: { e in e.findings(FindingCategory("api_fix_input")).nilIfEmpty },
            cause: { e in
                let reasons = e.found(FindingCategory("api_fix_input")).map {
                    String($0.finding.signature.split(separator: ": ").last ?? "")
                }
                return
                    "The instance refuses the canary (\(reasons.joined(separator: ", "))): its account, scopes or post, not the instance, need fixing"
            },
            nextStep:
                "403: confirm, approve or re-enable the canary account, or give its token the write scopes; 422: look at what the instance refuses in the canary's post (length, duplicate)",
            action: nil),
        DiagnosisRule(
            id: "rate_limited", explains: ["mastodon.api_probe"],
            needs: "the API probe answered 429",
            match: { e in
                e.findings(FindingCategory("api_retry_later")) { $0.signature.hasSuffix("rate_limited") }.nilIfEmpty
            },
            cause: { e in
                let wait = e.metric("mastodon.api_probe", "retry_after_s").map { " for \(Int($0)) s" } ?? ""
                return "The API rate-limits the canary\(wait)"
            },
            nextStep: "Wait for the limit to reset; nothing is broken",
            action: nil),
        DiagnosisRule(
            id: "api_unavailable", explains: ["mastodon.api_probe"],
            needs: "the API probe answered 503 or got no answer",
            match: { e in
                e.findings(FindingCategory("api_retry_later")) { !$0.signature.hasSuffix("rate_limited") }.nilIfEmpty
            },
            cause: { _ in
                "The API is temporarily unavailable (503 or no answer): maintenance, or nginx or puma refusing"
            },
            nextStep:
                "Look at nginx's error log and mastodon-web's journal at that time; a 503 with 'Remote data' is another server's failure",
            action: nil),
        DiagnosisRule(
            id: "tls", explains: web.union(["postgresql", "sidekiq"]),
            needs: "`tls_error` findings: a handshake fails",
            match: { e in e.findings(.tlsError).nilIfEmpty },
            cause: { e in
                // The agent's own reading of the public certificate says more than a failed handshake.
                let expiry = e.found(.tlsError, where: { $0.signature.hasPrefix("TLS certificate expir") }).first
                guard let sample = expiry?.finding.sample else {
                    return "A TLS handshake fails (certificate expired, wrong name or untrusted)"
                }
                return "The public \(sample): not renewed, or renewed while nginx still serves the old one"
            },
            nextStep: "Renew or fix the certificate named in the evidence (certbot renew; then reload nginx)",
            action: SuggestedAction(action: "restart-service", parameters: ["service": "nginx"])),
        DiagnosisRule(
            id: "resource_pressure", explains: ["resources"],
            needs: "the resources check in trouble: memory, swap or CPU",
            match: { e in e.troubled("resources") ? e.summary("resources") : nil },
            cause: { e in
                var parts: [String] = []
                if let memory = e.metric("resources", "memory.available_ratio"), memory < 0.15 {
                    parts.append("\(Int(memory * 100)) % of memory available")
                }
                if let swap = e.metric("resources", "swap.used_ratio"), swap > 0.5 {
                    parts.append("swap \(Int(swap * 100)) % used")
                }
                if let cpu = e.metric("resources", "cpu.busy_ratio"), cpu > 0.85 {
                    parts.append("CPU \(Int(cpu * 100)) % busy")
                }
                if let wait = e.metric("resources", "cpu.iowait_ratio"), wait > 0.2 {
                    parts.append("\(Int(wait * 100)) % iowait")
                }
                return "The host is short of resources" + (parts.isEmpty ? "" : ": " + parts.joined(separator: ", "))
            },
            nextStep:
                "Find what uses it (systemd-cgtop, ps): fewer puma workers or Sidekiq threads, a slow disk under PostgreSQL, or a bigger host",
            action: nil),
        DiagnosisRule(
            id: "errors_under_load", explains: web,
            needs: "the `under_load` pattern: 5xx rising and falling with traffic",
            match: { e in e.patterns.contains(.underLoad) ? e.summary("nginx.access_log") : nil },
            cause: { _ in "5xx rise and fall with traffic: a resource runs out under load (pool, workers, memory)" },
            nextStep:
                "Compare DB_POOL with MAX_THREADS, the database's connections and memory at peak; raise the one that runs out",
            action: nil),
        DiagnosisRule(
            id: "unit_failing", explains: ["logs", "services"],
            needs:
                "`service_failed` findings: systemd cannot start or keep a unit (bad User=, ExecStart=, start limit)",
            match: { e in e.findings(.serviceFailed).nilIfEmpty },
            cause: { _ in "systemd cannot keep a unit running: its unit file or the program it starts is broken" },
            nextStep:
                "systemctl status and journalctl -u the unit: status 217/USER, 203/EXEC or 200/CHDIR mean User=, ExecStart= or WorkingDirectory= is wrong (fix, daemon-reload); after a start limit, systemctl reset-failed before starting it again",
            action: nil),
        DiagnosisRule(
            id: "unrecognised_error", explains: ["logs", "nginx.error_log"],
            needs: "`unclassified_error` or `other` findings: errors no cause above covers",
            match: { e in (e.findings(.other) + e.findings(.unclassifiedError)).nilIfEmpty },
            cause: { e in
                let top = (e.found(.other) + e.found(.unclassifiedError)).max { $0.finding.count < $1.finding.count }
                guard let top else { return "The logs show errors no known cause covers" }
                return "An error no known cause covers: \(top.finding.signature)"
                    + (top.finding.sample.map { " — \($0)" } ?? "")
            },
            nextStep:
                "Read the sample and the lines around it (journalctl, the log file); when it recurs and its cause is known, add a signature (logs.signature_files) so that Herd names it next time",
            action: nil),
        DiagnosisRule(
            id: "server_errors", explains: ["logs", "nginx.access_log"],
            needs: "5xx in nginx's access log or Rails' request lines that no cause above explains",
            match: { e in
                let nginx = e.metric("nginx.access_log", "status_5xx") ?? 0
                let rails = e.metric("logs", "requests_5xx") ?? 0
                guard nginx > 0 || rails > 0 else { return nil }
                return (e.troubled("nginx.access_log") ? e.summary("nginx.access_log") : [])
                    + (e.troubled("logs") ? e.summary("logs") : [])
            },
            cause: { e in
                // The same requests seen twice: nginx's statuses say who answered, Rails' lines that no
                // error class was logged for them.
                let codes = [500, 502, 503, 504].compactMap { code in
                    (e.metric("nginx.access_log", "status_\(code)") ?? 0) > 0
                        ? "\(Int(e.metric("nginx.access_log", "status_\(code)")!))×\(code)" : nil
                }
                return "Requests fail with 5xx"
                    + (codes.isEmpty ? "" : " (" + codes.joined(separator: ", ") + ")")
                    + " and no log line names why"
            },
            nextStep:
                "Find the failing requests' ids in production.log and what they share (path, time, traffic: herdctl show); a JSON 503 is Rails' own answer, an HTML 502/504 nginx's",
            action: nil),
    ]
}
