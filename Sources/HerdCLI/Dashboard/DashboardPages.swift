import Crypto
import Foundation
import HTTPTypes
import HerdProtocol
import Hummingbird

/// The dashboard's pages, each from the operator API's answers (the same calls herdctl's verbs make).
struct DashboardPages: Sendable {
    let server: DashboardServer
    var client: OperatorClient { server.client }
    var context: DashboardServer.Context { server.context }

    static let states = ["critical", "silent", "unknown", "warning", "waiting", "ok"]

    /// A page that only says what is wrong.
    func problem(_ status: HTTPResponse.Status, _ message: String, active: String) -> (HTTPResponse.Status, String) {
        (
            status,
            HTML.page(
                title: "Refused", active: active, context: context,
                body: "<div class=\"problem\">\(HTML.escape(message))</div>")
        )
    }

    // MARK: Fleet

    /// `/?state=&q=&version=&sort=&refresh=`: every instance, filtered and sorted; refreshes itself.
    func fleet(_ request: Request) async throws -> (HTTPResponse.Status, String) {
        let query = request.uri.queryParameters
        let attribute = query.get("attribute") ?? ""
        let fleet = try await client.call(
            .GET, "/v1/fleet" + (attribute.isEmpty ? "" : "?attribute=\(HTML.query(attribute))"),
            as: OperatorAPI.Fleet.self)
        let state = query.get("state") ?? ""
        let text = (query.get("q") ?? "").lowercased()
        let version = query.get("version") ?? ""
        let sort = query.get("sort") ?? "state"
        let refresh = Int(query.get("refresh") ?? "15").map { max(0, min($0, 3600)) } ?? 15
        var rows = fleet.instances.filter { row in
            (state.isEmpty || row.state == state || (state == "trouble" && row.state != "ok"))
                && (text.isEmpty || row.instance.contains(text))
                && (version.isEmpty || row.agentVersion == version)
        }
        switch sort {
        case "instance": rows.sort { $0.instance < $1.instance }
        case "last": rows.sort { ($0.lastReportAt ?? .distantPast) > ($1.lastReportAt ?? .distantPast) }
        case "version": rows.sort { ($0.agentVersion ?? "", $0.instance) < ($1.agentVersion ?? "", $1.instance) }
        default: break  // the controller's order: worst first
        }
        var counts: [String: Int] = [:]
        for row in fleet.instances { counts[row.state, default: 0] += 1 }
        let summary = Self.states.map { "\(HTML.state($0)) \(counts[$0] ?? 0)" }.joined(separator: " · ")
        let versions = Set(fleet.instances.compactMap(\.agentVersion)).sorted()
        func option(_ value: String, _ label: String, _ selected: String) -> String {
            "<option value=\"\(HTML.escape(value))\"\(value == selected ? " selected" : "")>\(HTML.escape(label))</option>"
        }
        func link(_ key: String, _ label: String) -> String {
            var parts = ["sort=\(key)"]
            if !state.isEmpty { parts.append("state=\(HTML.query(state))") }
            if !text.isEmpty { parts.append("q=\(HTML.query(text))") }
            if !version.isEmpty { parts.append("version=\(HTML.query(version))") }
            if !attribute.isEmpty { parts.append("attribute=\(HTML.query(attribute))") }
            return "<a href=\"/?\(parts.joined(separator: "&amp;"))\">\(label)</a>"
        }
        let filters = """
            <form class="filters" method="get" action="/">
            <label>State<select name="state">\(option("", "any", state))\(option("trouble", "not ok", state))\(Self.states.map { option($0, $0, state) }.joined())</select></label>
            <label>Instance<input name="q" value="\(HTML.escape(text))" placeholder="domain contains"></label>
            <label>Attribute<input name="attribute" value="\(HTML.escape(attribute))" placeholder="region=eu, attribute.plan=pro"></label>
            <label>Agent version<select name="version">\(option("", "any", version))\(versions.map { option($0, $0, version) }.joined())</select></label>
            <label>Refresh (s)<input name="refresh" value="\(refresh)" size="4"></label>
            <input type="hidden" name="sort" value="\(HTML.escape(sort))"><button>Show</button></form>
            """
        let table = HTML.table(
            [
                link("instance", "Instance"), link("state", "State"), "Failing", "Warning", link("last", "Last report"),
                link("version", "Agent"),
            ],
            rows.map { row in
                [
                    "<a href=\"/instances/\(HTML.escape(row.instance))\">\(HTML.escape(row.instance))</a>",
                    HTML.state(row.state), HTML.escape(row.failing.joined(separator: ", ")),
                    HTML.escape(row.warning.joined(separator: ", ")),
                    row.lastReportAt.map { HTML.escape(Output.age($0, now: fleet.serverTime)) + " ago" } ?? "never",
                    HTML.escape(row.agentVersion ?? ""),
                ]
            }, id: "fleet")
        let body = """
            <h1>Fleet</h1><p>\(fleet.instances.count) instances: \(summary)</p>\(filters)
            <p class="muted">\(rows.count) shown · as of \(HTML.time(fleet.serverTime))\(refresh > 0 ? " · refreshes every \(refresh) s" : "")</p>
            \(table)
            """
        return (
            .ok,
            HTML.page(
                title: "Fleet", active: "fleet", context: context, refresh: refresh > 0 ? refresh : nil, body: body)
        )
    }

    // MARK: One instance

    /// The key metrics: (title, unit, check, metric selector, scale).
    static let charts:
        [(title: String, unit: String, check: String, metric: @Sendable (String) -> Bool, scale: Double)] = [
            ("HTTP 5xx per second", "/s", "nginx.access_log", { $0 == "errors_5xx_per_second" }, 1),
            ("Sidekiq latency", "s", "sidekiq", { $0 == "latency_s" }, 1),
            (
                "PostgreSQL connections in use", "", "postgresql",
                { $0 == "connections.in_use" || $0 == "connections.max" }, 1
            ),
            ("Disk used", "%", "disk", { $0.hasSuffix(".used_ratio") && !$0.contains("inodes") }, 100),
        ]

    /// `/instances/DOMAIN?days=`: its checks, open incidents, and charts over hours and days.
    func instance(_ domain: String, _ request: Request) async throws -> (HTTPResponse.Status, String) {
        guard Rule.isInstanceName(domain) else {
            return problem(.notFound, "not an instance name", active: "fleet")
        }
        let days = Int(request.uri.queryParameters.get("days") ?? "7").map { max(1, min($0, 30)) } ?? 7
        let detail = try await client.call(.GET, "/v1/instances/\(domain)", as: OperatorAPI.InstanceDetail.self)
        let until = detail.serverTime
        let since = until.addingTimeInterval(-Double(days) * 86_400)
        let incidents = try await client.call(
            .GET, "/v1/incidents?state=open&instance=\(domain)&limit=50", as: OperatorAPI.Incidents.self)
        // The findings of each check's newest result (the last hour's raw history holds it).
        let recent = try await client.call(
            .GET,
            "/v1/instances/\(domain)/history?since=\(WireTime.format(until.addingTimeInterval(-3600)))&until=\(WireTime.format(until.addingTimeInterval(1)))&raw_hours=1&limit=20000",
            as: OperatorAPI.History.self)
        var newest: [String: OperatorAPI.HistoryResult] = [:]
        for result in recent.results { newest[result.checkId] = result }
        let findingRows = newest.keys.sorted().flatMap { check in
            newest[check]!.findings.map { finding in
                [
                    HTML.escape(check), HTML.escape(finding.category), HTML.escape(finding.signature),
                    "\(finding.count)",
                    "<code>\(HTML.escape(finding.sample ?? ""))</code>",
                ]
            }
        }
        var figures: [String] = []
        // A split instance has each chart's check once per host that runs it (`disk@db-1`).
        let charted = Self.charts.flatMap { chart in
            let hosts = detail.checks.map(\.checkId).filter { $0.hasPrefix(chart.check + "@") }.sorted()
            return (hosts.isEmpty ? [chart.check] : hosts).map { (chart, $0) }
        }
        for (chart, check) in charted {
            let history = try await client.call(
                .GET,
                "/v1/instances/\(domain)/history?since=\(WireTime.format(since))&until=\(WireTime.format(until))&raw_hours=24&check=\(check)&limit=20000",
                as: OperatorAPI.History.self)
            let names = Set(
                history.hours.flatMap { $0.metrics.keys } + history.results.flatMap { $0.metrics.keys }
            ).filter(chart.metric).sorted()
            let series = names.map {
                Chart.series(
                    history, check: check, metric: $0, name: $0.replacingOccurrences(of: ".used_ratio", with: ""),
                    scale: chart.scale)
            }
            var caption = HTML.escape(
                chart.title + (check == chart.check ? "" : " on " + check.drop { $0 != "@" }.dropFirst()))
            if chart.check == "disk" {
                let soonest = series.compactMap { series in
                    Chart.secondsToFull(series.points.map { ($0.0, $0.1 / 100) }).map { (series.name, $0) }
                }.min { $0.1 < $1.1 }
                caption +=
                    soonest.map {
                        " <span class=\"muted\">· \(HTML.escape($0.0)) full in \(HTML.escape(Output.age($0.1))) at this rate</span>"
                    } ?? " <span class=\"muted\">· no growth to project (or under an hour of history)</span>"
            }
            figures.append(
                "<figure><figcaption>\(caption)</figcaption>\(Chart.svg(title: chart.title, unit: chart.unit, series: series, from: since.timeIntervalSince1970, to: until.timeIntervalSince1970, ceiling: chart.check == "disk" ? 100 : nil))</figure>"
            )
        }
        let checks = HTML.table(
            ["Check", "State", "Since", "24 h", "Summary"],
            detail.checks.map { check in
                [
                    HTML.escape(check.checkId), HTML.state(check.status),
                    HTML.escape(Output.age(check.since, now: detail.serverTime)),
                    "<span class=\"spark\">\(HTML.escape(check.hours))</span>", HTML.escape(check.summary),
                ]
            }, id: "checks")
        let open =
            incidents.incidents.isEmpty
            ? "<p class=\"muted\">none</p>"
            : HTML.table(
                ["Incident", "Severity", "What", "Probable cause"],
                incidents.incidents.map { Self.incidentCells($0) })
        let ranges = [1, 7, 14, 30].map { "<a href=\"/instances/\(domain)?days=\($0)\">\($0) d</a>" }.joined(
            separator: " · ")
        let body = """
            <h1>\(HTML.escape(domain))</h1>
            \(detail.reportsLost > 0 ? "<div class=\"problem\">its agent lost \(detail.reportsLost) report(s) before delivering them</div>" : "")
            <h2>Checks</h2>\(checks)
            <h2>Findings</h2>\(findingRows.isEmpty ? "<p class=\"muted\">none in the newest results</p>" : HTML.table(["Check", "Category", "Signature", "Count", "Sample"], findingRows, id: "findings"))
            <h2>Open incidents</h2>\(open)
            <h2>Last \(days) days</h2><p class="muted">hourly means with their range, then the last 24 hours raw · \(ranges)</p>
            <div class="charts">\(figures.joined())</div>
            """
        return (.ok, HTML.page(title: domain, active: "fleet", context: context, body: body))
    }

    // MARK: Incidents

    static func incidentCells(_ incident: OperatorAPI.IncidentRow) -> [String] {
        let what =
            incident.kind == "fleet"
            ? "\(incident.subject) on \(incident.members) instances (\(incident.group ?? "fleet"))"
            : "\(incident.checkId ?? "?") on \(incident.instance ?? "?")"
        return [
            "<a href=\"/incidents/\(incident.id)\">#\(incident.id)</a>",
            HTML.state(incident.state == "open" ? incident.severity : "ok")
                + (incident.state == "open" ? "" : " resolved"),
            HTML.escape(what), HTML.escape(incident.diagnosis?.cause ?? incident.summary),
        ]
    }

    func incidents(_ request: Request) async throws -> (HTTPResponse.Status, String) {
        let all = request.uri.queryParameters.get("state") == "all"
        let answer = try await client.call(
            .GET, "/v1/incidents?state=\(all ? "all" : "open")&limit=200", as: OperatorAPI.Incidents.self)
        let body = """
            <h1>Incidents</h1><p><a href="/incidents">open</a> · <a href="/incidents?state=all">all</a></p>
            \(answer.incidents.isEmpty ? "<p>no \(all ? "" : "open ")incident</p>" : HTML.table(["Incident", "Severity", "What", "Probable cause"], answer.incidents.map(Self.incidentCells), id: "incidents"))
            """
        return (.ok, HTML.page(title: "Incidents", active: "incidents", context: context, refresh: 30, body: body))
    }

    func incident(_ id: Int64) async throws -> (HTTPResponse.Status, String) {
        let detail = try await client.call(.GET, "/v1/incidents/\(id)", as: OperatorAPI.IncidentDetail.self)
        let incident = detail.incident
        let remediations = try await client.call(.GET, "/v1/remediations?state=all", as: OperatorAPI.Remediations.self)
            .remediations.filter { $0.incidentId == id }
        var body = "<h1>#\(id) \(HTML.escape(incident.summary))</h1>"
        body +=
            "<p>\(HTML.state(incident.severity)) · \(HTML.escape(incident.state)) · opened \(HTML.time(incident.openedAt))"
        body += incident.acknowledgedBy.map { " · acknowledged by \(HTML.escape($0))" } ?? ""
        body += incident.instance.map { " · <a href=\"/instances/\(HTML.escape($0))\">\(HTML.escape($0))</a>" } ?? ""
        body += "</p>"
        if let diagnosis = incident.diagnosis {
            body += "<h2>Probable cause</h2><p id=\"cause\">\(HTML.escape(diagnosis.cause))</p>"
            body += "<ul>" + diagnosis.evidence.map { "<li>\(HTML.escape($0))</li>" }.joined() + "</ul>"
            body += "<p><b>Next step:</b> \(HTML.escape(diagnosis.nextStep))</p>"
            if let action = diagnosis.action {
                body += "<p><b>Suggested remediation:</b> <code>\(HTML.escape(action))</code></p>"
            }
        }
        body +=
            "<h2>Timeline</h2>"
            + HTML.table(
                ["At", "Event", "By", "Detail"],
                detail.timeline.map {
                    [HTML.time($0.at), HTML.escape($0.kind), HTML.escape($0.actor ?? ""), HTML.escape($0.detail)]
                })
        if !detail.members.isEmpty {
            body +=
                "<h2>Members</h2>"
                + HTML.table(
                    ["Incident", "Severity", "What", "Probable cause"], detail.members.map(Self.incidentCells))
        }
        body += "<h2>Remediations</h2>"
        body +=
            remediations.isEmpty
            ? "<p class=\"muted\">none proposed (herdctl incident remediate \(id))</p>"
            : HTML.table(["Remediation", "State", "Action", "Requested by"], remediations.map(Self.remediationCells))
        body +=
            "<h2>Notifications</h2>"
            + HTML.table(
                ["Transition", "Receiver", "State", "Attempts", "Sent"],
                detail.notifications.map {
                    [
                        HTML.escape($0.transition), HTML.escape($0.sink), HTML.escape($0.state), "\($0.attempts)",
                        $0.sentAt.map(HTML.time) ?? "",
                    ]
                })
        return (.ok, HTML.page(title: "#\(id)", active: "incidents", context: context, body: body))
    }

    // MARK: Remediations

    static func remediationCells(_ remediation: OperatorAPI.Remediation) -> [String] {
        [
            "<a href=\"/remediations/\(HTML.escape(remediation.id))\">\(HTML.escape(String(remediation.id.prefix(8))))</a>",
            HTML.state(remediation.state),
            HTML.escape(remediation.action + " " + remediation.parameters.joined(separator: " ")),
            HTML.escape(remediation.requestedBy),
        ]
    }

    func remediations() async throws -> (HTTPResponse.Status, String) {
        let answer = try await client.call(.GET, "/v1/remediations?state=open", as: OperatorAPI.Remediations.self)
        let waiting = answer.remediations.filter { $0.previewOf == nil }
        var body = "<h1>Remediations awaiting approval</h1>"
        if answer.freeze.frozen {
            body +=
                "<div class=\"problem\">frozen by \(HTML.escape(answer.freeze.by ?? "?")): \(HTML.escape(answer.freeze.reason ?? ""))</div>"
        }
        body +=
            waiting.isEmpty
            ? "<p>nothing awaits approval</p>"
            : HTML.table(
                ["Remediation", "State", "Action", "Requested by", "Instance", "Approvals", "Expires"],
                waiting.map {
                    Self.remediationCells($0) + [
                        HTML.escape($0.instance), "\($0.approvals.count) of \($0.requiredApprovals)",
                        HTML.time($0.expiresAt),
                    ]
                }, id: "remediations")
        return (
            .ok, HTML.page(title: "Remediations", active: "remediations", context: context, refresh: 30, body: body)
        )
    }

    /// One remediation: the exact command decoded here from the bytes that would be signed, its dry run,
    /// who signed, and — while it is proposed — the form that signs it with this operator's key.
    func remediation(_ id: String, _ request: Request) async throws -> (HTTPResponse.Status, String) {
        guard Command.isLowercaseUUID(id) else {
            return problem(.notFound, "not a remediation id", active: "remediations")
        }
        let detail = try await client.call(.GET, "/v1/remediations/\(id)", as: OperatorAPI.RemediationDetail.self)
        let remediation = detail.remediation
        let (command, payload) = try RemediateApprove.command(remediation, id: id)
        let digest = Hex.lowercase(SHA256.hash(data: payload))
        var body = "<h1>\(HTML.escape(command.action.summary)) on \(HTML.escape(command.instance))</h1>"
        if let done = request.uri.queryParameters.get("approved") {
            body += "<div class=\"notice\" id=\"approved\">signed with your key and sent: \(HTML.escape(done))</div>"
        }
        body +=
            "<p>\(HTML.state(remediation.state)) · risk \(HTML.escape(remediation.risk)) · requested by \(HTML.escape(remediation.requestedBy)) · expires \(HTML.time(command.expiresAt))</p>"
        body += "<h2>The exact command (decoded from the signed bytes)</h2><pre id=\"command\">"
        body += HTML.lines(
            [
                "id:      \(command.id)", "agent:   \(command.agentID)", "runs:    \(command.action.hostCommand)",
                "reason:  \(command.reason)", "payload: sha256 \(digest)",
            ].joined(separator: "\n"))
        body += "</pre>"
        if let preview = detail.preview {
            body +=
                "<h2>Dry run</h2><p>\(HTML.state(preview.state))\(preview.exitCode.map { " · exit \($0)" } ?? "")</p>"
            body += "<pre id=\"dry-run\">\(HTML.lines(preview.outputTail ?? preview.detail ?? "not run yet"))</pre>"
        }
        body += "<h2>Approvals (\(remediation.approvals.count) of \(remediation.requiredApprovals))</h2>"
        body +=
            remediation.approvals.isEmpty
            ? "<p class=\"muted\">none yet</p>"
            : HTML.table(
                ["Operator", "Key", "At"],
                remediation.approvals.map {
                    [HTML.escape($0.operator), "<code>\(HTML.escape($0.keyId))</code>", HTML.time($0.at)]
                })
        if remediation.state == "proposed" {
            body += """
                <form method="post" action="/remediations/\(HTML.escape(id))/approve">
                <input type="hidden" name="csrf" value="\(HTML.escape(server.formToken(for: request)))">
                <input type="hidden" name="sha256" value="\(digest)">
                <p>Signing covers exactly the bytes above (sha256 \(digest.prefix(16))…), with your key on this machine.</p>
                <button class="approve" id="approve">Approve as \(HTML.escape(context.operatorName))</button></form>
                """
        }
        if let detailText = remediation.detail ?? remediation.refusal {
            body += "<h2>Outcome</h2><pre>\(HTML.lines(detailText))</pre>"
        }
        if let output = remediation.outputTail { body += "<pre id=\"output\">\(HTML.lines(output))</pre>" }
        return (.ok, HTML.page(title: "Remediation", active: "remediations", context: context, body: body))
    }

    /// Signs the command the operator saw — refused if its bytes changed since the page showed them, or
    /// if this operator denied it before — and sends the signature; `.seeOther` with the page to show.
    func approve(_ id: String, sha256 shown: String) async throws -> (HTTPResponse.Status, String) {
        guard Command.isLowercaseUUID(id) else {
            return problem(.notFound, "not a remediation id", active: "remediations")
        }
        if try DeniedLedger(server.connection).contains(id) {
            return problem(.conflict, "you denied \(id) before: not signing it", active: "remediations")
        }
        let detail = try await client.call(.GET, "/v1/remediations/\(id)", as: OperatorAPI.RemediationDetail.self)
        let (_, payload) = try RemediateApprove.command(detail.remediation, id: id)
        guard Hex.lowercase(SHA256.hash(data: payload)) == shown else {
            return problem(
                .conflict, "the command changed since the page showed it: nothing signed; look again",
                active: "remediations")
        }
        let approved = try await RemediateApprove.approve(id, payload: payload, signer: server.signer, client: client)
        let note = "\(approved.state), \(approved.approvals.count) of \(approved.requiredApprovals) approval(s)"
        // Post/redirect/get: the page to go to, not a page.
        return (.seeOther, "/remediations/\(id)?approved=\(HTML.query(note))")
    }

    // MARK: Audit

    /// The newest 200 rows, and the whole chain verified here, as `herdctl audit --verify` does.
    func audit() async throws -> (HTTPResponse.Status, String) {
        let (verifier, entries) = try await AuditCommand.verifier(of: client, keeping: 200)
        let verification = verifier.verification
        var body = "<h1>Audit log</h1>"
        body +=
            verification.ok
            ? "<div class=\"notice\" id=\"verification\">chain intact, verified on this machine: \(verification.entries) rows; head <code>\(HTML.escape(verification.headHash))</code></div>"
            : "<div class=\"problem\" id=\"verification\">chain broken: "
                + verification.problems.map { "row \($0.id): \(HTML.escape($0.problem))" }.joined(separator: "; ")
                + "</div>"
        body += HTML.table(
            ["Id", "At", "Actor", "Action", "Subject", "Detail"],
            entries.reversed().map {
                [
                    "\($0.id)", HTML.time($0.at.instant), HTML.escape($0.actor), HTML.escape($0.action),
                    HTML.escape($0.subject), HTML.escape($0.detail),
                ]
            }, id: "audit")
        return (.ok, HTML.page(title: "Audit", active: "audit", context: context, body: body))
    }
}
