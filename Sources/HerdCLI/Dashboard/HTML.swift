import Foundation
import HerdProtocol

/// The dashboard's markup: escaped text, the page frame, and the one stylesheet, compiled into herdctl
/// (nothing is fetched from anywhere else; the Content-Security-Policy forbids it).
enum HTML {
    /// Text from the controller for an HTML text node or attribute: control characters escaped as
    /// herdctl's terminal output does, then `& < > " '`.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.escapingControlCharacters {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// Text for a `<pre>`: each line escaped, the line breaks kept.
    static func lines(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { escape(String($0)) }.joined(separator: "\n")
    }

    /// A query-string value.
    static func query(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._~"))) ?? ""
    }

    /// `2026-12-04 03:10:54Z`, as herdctl prints instants.
    static func time(_ date: Date) -> String { Output.timestamp(date) }

    static func state(_ state: String) -> String {
        "<span class=\"state \(escape(state))\">\(escape(state))</span>"
    }

    /// The frame of every page: navigation, the operator, the controller, and a refresh when asked.
    static func page(title: String, active: String, context: DashboardServer.Context, refresh: Int? = nil, body: String)
        -> String
    {
        let links = [
            ("fleet", "/", "Fleet"), ("incidents", "/incidents", "Incidents"),
            ("remediations", "/remediations", "Remediations"), ("audit", "/audit", "Audit"),
        ]
        let nav = links.map { key, href, label in
            "<a href=\"\(href)\"\(key == active ? " class=\"active\"" : "")>\(label)</a>"
        }.joined()
        let meta = refresh.map { "<meta http-equiv=\"refresh\" content=\"\($0)\">" } ?? ""
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">\(meta)
            <title>\(escape(title)) · Herd</title>
            <link rel="stylesheet" href="/assets/herd.css"></head>
            <body><header><span class="brand">Herd</span><nav>\(nav)</nav>
            <span class="who">\(escape(context.operatorName)) @ \(escape(context.controller))</span></header>
            <main>\(body)</main></body></html>
            """
    }

    static func table(_ header: [String], _ rows: [[String]], id: String? = nil) -> String {
        let head = header.map { "<th>\($0)</th>" }.joined()
        let body = rows.map { "<tr>" + $0.map { "<td>\($0)</td>" }.joined() + "</tr>" }.joined(separator: "\n")
        return "<table\(id.map { " id=\"\($0)\"" } ?? "")><thead><tr>\(head)</tr></thead><tbody>\(body)</tbody></table>"
    }

    static let stylesheet = """
        :root { --ok: #1a7f37; --warning: #9a6700; --critical: #cf222e; --unknown: #8250df; --muted: #57606a; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; background: #f6f8fa; }
        header { display: flex; align-items: center; gap: 24px; padding: 10px 20px; background: #24292f; color: #fff; }
        header .brand { font-weight: 700; font-size: 16px; }
        header nav a { color: #d0d7de; margin-right: 16px; text-decoration: none; }
        header nav a.active { color: #fff; border-bottom: 2px solid #fff; }
        header .who { margin-left: auto; color: #d0d7de; font-size: 12px; }
        main { padding: 16px 20px; }
        h1 { font-size: 20px; margin: 4px 0 12px; } h2 { font-size: 16px; margin: 20px 0 8px; }
        table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #d0d7de; }
        th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
        th { background: #f6f8fa; font-weight: 600; } th a { color: inherit; }
        .state { font-weight: 600; } .state.ok { color: var(--ok); } .state.warning { color: var(--warning); }
        .state.critical, .state.silent, .state.failed { color: var(--critical); }
        .state.unknown, .state.waiting { color: var(--unknown); }
        .muted { color: var(--muted); } code, pre { font: 12px ui-monospace, monospace; }
        pre { background: #fff; border: 1px solid #d0d7de; padding: 8px; white-space: pre-wrap; }
        form.filters { display: flex; gap: 8px; align-items: end; margin-bottom: 12px; flex-wrap: wrap; }
        form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
        input, select, button { font: inherit; padding: 3px 6px; }
        button.approve { background: #1f883d; color: #fff; border: 0; padding: 6px 14px; border-radius: 4px; }
        .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 12px; }
        figure { margin: 0; background: #fff; border: 1px solid #d0d7de; padding: 8px; }
        figcaption { font-weight: 600; margin-bottom: 4px; } svg text { font: 10px system-ui, sans-serif; fill: #57606a; }
        .notice { background: #ddf4ff; border: 1px solid #54aeff; padding: 8px; margin-bottom: 12px; }
        .problem { background: #ffebe9; border: 1px solid #ff8182; padding: 8px; margin-bottom: 12px; }
        .spark { font: 12px ui-monospace, monospace; letter-spacing: 1px; white-space: nowrap; }
        """
}
