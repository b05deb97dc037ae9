import Foundation
import HerdProtocol

/// One message to one receiver: one incident's transition, or a digest of several incidents of one
/// instance opened at once; `key` makes a retry harmless (`Idempotency-Key`, Matrix's transaction id,
/// the email's Message-ID, PagerDuty's deduplication by incident).
struct NotificationMessage: Sendable {
    /// `opened`, `escalated`, `repeated`, `resolved`; `digest` for several; `test` from `notifications test`.
    var transition: String
    var repetition = 0
    var incidents: [IncidentDetail]
    var notificationIDs: [Int64]
    var key: String

    static func single(_ notification: NotificationRecord, _ detail: IncidentDetail) -> NotificationMessage {
        NotificationMessage(
            transition: notification.transition, repetition: notification.repetition, incidents: [detail],
            notificationIDs: [notification.id], key: "herd-notification-\(notification.id)")
    }

    static func digest(_ notifications: [NotificationRecord], _ details: [IncidentDetail]) -> NotificationMessage {
        let ids = notifications.map(\.id)
        return NotificationMessage(
            transition: "digest", incidents: details, notificationIDs: ids,
            key: "herd-digest-\(ids.min() ?? 0)-\(ids.max() ?? 0)-\(ids.count)")
    }

    /// What `notifications test` sends: an incident #0 that exists nowhere, saying who asked, when, by
    /// which route.
    static func test(route: String, by operatorName: String, at: Double) -> NotificationMessage {
        let incident = IncidentRecord(
            test: "Test notification from herd-controller: route \(route), asked by \(operatorName)", at: at)
        return NotificationMessage(
            transition: "test",
            incidents: [IncidentDetail(incident: incident, events: [], members: [], notifications: [])],
            notificationIDs: [], key: "herd-test-\(Int64(at * 1000))")
    }

    var isDigest: Bool { incidents.count > 1 }

    /// `[CRITICAL] opened: #12 summary` — or, for a digest, how many incidents opened on which instance.
    var subject: String {
        if isDigest {
            let worst = incidents.map(\.incident.severity).max() ?? 1
            let instance = incidents.first?.incident.instance ?? "the fleet"
            return
                "[\(IncidentBook.severityName(worst).uppercased())] \(incidents.count) incidents opened on \(instance)"
        }
        guard let incident = incidents.first?.incident else { return "Herd" }
        let what =
            switch transition {
            case "repeated": "still open, not acknowledged (repeat \(repetition))"
            case "test": "test"
            default: transition
            }
        return "[\(incident.severityName.uppercased())] \(what): #\(incident.id) \(incident.summary)"
    }

    /// The lines every text receiver gets (Slack, Matrix, email): the subject, then per incident its
    /// members, probable cause and next step.
    var lines: [String] {
        var lines = [subject]
        for detail in incidents {
            let incident = detail.incident
            if isDigest {
                lines.append("")
                lines.append("#\(incident.id) [\(incident.severityName)] \(incident.summary)")
            }
            let members = detail.members.compactMap(\.instance)
            if !members.isEmpty {
                lines.append(
                    "\(members.count) instances: \(members.prefix(20).joined(separator: ", "))\(members.count > 20 ? ", …" : "")"
                )
            }
            if let diagnosis = incident.diagnosis, transition != "resolved" {
                lines.append("Probable cause: \(diagnosis.cause)")
                lines.append("Next step: \(diagnosis.nextStep)")
                if let action = diagnosis.action { lines.append("Suggested remediation: \(action)") }
            }
        }
        if transition == "repeated" {
            lines.append("Acknowledge it to stop the repeats: herdctl ack \(incidents[0].incident.id)")
        }
        return lines
    }

    /// Herd's own JSON (a webhook with `format = json`).
    func json() -> [UInt8] {
        struct Single: Encodable {
            var notificationID: Int64
            var transition: String
            var repetition: Int
            var incident: OperatorAPI.IncidentRow
            var members: [String]
            enum CodingKeys: String, CodingKey {
                case notificationID = "notification_id"
                case transition, repetition, incident, members
            }
        }
        struct Digest: Encodable {
            var notificationIDs: [Int64]
            var transition: String
            var instance: String?
            var incidents: [OperatorAPI.IncidentRow]
            enum CodingKeys: String, CodingKey {
                case notificationIDs = "notification_ids"
                case transition, instance, incidents
            }
        }
        if isDigest {
            return
                (try? JSONCodable.encode(
                    Digest(
                        notificationIDs: notificationIDs, transition: transition,
                        instance: incidents.first?.incident.instance,
                        incidents: incidents.map { IncidentRoutes.row($0.incident) }))) ?? []
        }
        let detail = incidents[0]
        return
            (try? JSONCodable.encode(
                Single(
                    notificationID: notificationIDs.first ?? 0, transition: transition, repetition: repetition,
                    incident: IncidentRoutes.row(detail.incident), members: detail.members.compactMap(\.instance))))
            ?? []
    }

    /// Slack's and Mattermost's incoming webhooks: `{"text": …}`.
    func slack() -> [UInt8] {
        (try? JSONCodable.encode(["text": lines.joined(separator: "\n")])) ?? []
    }

    /// A Matrix `m.room.message` of type `m.text`.
    func matrix() -> [UInt8] {
        (try? JSONCodable.encode(["msgtype": "m.text", "body": lines.joined(separator: "\n")])) ?? []
    }

    /// PagerDuty Events API v2, one event per incident: `trigger` (repeats too: PagerDuty deduplicates
    /// them by `dedup_key` and escalates by its own policy), or `resolve`; a test triggers and resolves
    /// at once, so it leaves no open incident behind.
    func pagerDuty(routingKey: String) -> [[UInt8]] {
        struct Event: Encodable {
            var routingKey: String
            var eventAction: String
            var dedupKey: String
            var payload: Payload?
            enum CodingKeys: String, CodingKey {
                case routingKey = "routing_key"
                case eventAction = "event_action"
                case dedupKey = "dedup_key"
                case payload
            }
        }
        struct Payload: Encodable {
            var summary: String
            var source: String
            var severity: String
            var component: String?
            var group: String?
            var `class`: String?
            var customDetails: [String: String]
            enum CodingKeys: String, CodingKey {
                case summary, source, severity, component, group, `class`
                case customDetails = "custom_details"
            }
        }
        let actions = transition == "test" ? [false, true] : [transition == "resolved"]
        return incidents.flatMap { detail in actions.map { resolve in (detail, resolve) } }.map { detail, resolve in
            let incident = detail.incident
            var details = ["incident": "#\(incident.id)", "transition": transition]
            if let diagnosis = incident.diagnosis {
                details["probable_cause"] = diagnosis.cause
                details["next_step"] = diagnosis.nextStep
            }
            let event = Event(
                routingKey: routingKey, eventAction: resolve ? "resolve" : "trigger",
                dedupKey: transition == "test" ? key : "herd-incident-\(incident.id)",
                payload: resolve
                    ? nil
                    : Payload(
                        summary: String("#\(incident.id) \(incident.summary)".prefix(1024)),
                        source: incident.instance ?? "herd fleet",
                        severity: ["critical": "critical", "unknown": "error"][incident.severityName] ?? "warning",
                        component: incident.checkID,
                        group: incident.groupAttribute.map { "\($0)=\(incident.groupValue ?? "")" },
                        class: incident.diagnosis?.rule, customDetails: details))
            return (try? JSONCodable.encode(event)) ?? []
        }
    }

    /// An RFC 5322 message, CRLF line ends, the body in base64 (any 8-bit text passes any server).
    /// Header values are the controller's own text with control characters removed: nothing in an
    /// incident can add a header.
    func email(from: String, to: [String], date: Date) -> [UInt8] {
        func header(_ text: String) -> String {
            let clean = String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init))
            guard clean.unicodeScalars.allSatisfy(\.isASCII) else {
                // RFC 2047: encoded words of at most 75 characters (45 bytes of text each), whole
                // characters in each, folded onto lines of their own.
                var words: [String] = []
                var chunk = ""
                for character in clean {
                    if chunk.utf8.count + character.utf8.count > 45 {
                        words.append(chunk)
                        chunk = ""
                    }
                    chunk.append(character)
                }
                words.append(chunk)
                return words.map { "=?utf-8?B?\(Data($0.utf8).base64EncodedString())?=" }.joined(separator: "\r\n ")
            }
            return clean
        }
        var time = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&time, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let length = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S +0000", &parts)
        let dateText = String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let domain = from.split(separator: "@").last.map(String.init) ?? "herd.invalid"
        let body = Data((lines.joined(separator: "\n") + "\n").utf8).base64EncodedString(
            options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        let text = [
            "From: Herd <\(from)>", "To: \(to.joined(separator: ", "))", "Subject: \(header("[Herd] " + subject))",
            "Date: \(dateText)", "Message-ID: <\(key)@\(domain)>", "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64",
            "Auto-Submitted: auto-generated", "", body,
        ].joined(separator: "\r\n")
        return Array((text + "\r\n").utf8)
    }
}

extension IncidentRecord {
    /// The incident a test notification is about: #0, a warning, open, stored nowhere.
    init(test summary: String, at: Double) {
        id = 0
        kind = "instance"
        subject = "test"
        patterns = []
        categories = []
        severity = 1
        state = "open"
        openedAt = at
        updatedAt = at
        self.summary = summary
    }
}
