/// Remediations and the audit log in the operator API (Controller/README.md §Remediation).
extension OperatorAPI {
    /// `POST /v1/remediations`: a command the requester built and signed on their machine, its dry-run
    /// preview (signed the same way, dispatched at once: it changes nothing), and the incident it answers.
    public struct ProposalRequest: Codable, Sendable, Hashable {
        public var command: SignedEnvelope
        public var preview: SignedEnvelope?
        public var incidentId: Int64?
        enum CodingKeys: String, CodingKey {
            case command, preview
            case incidentId = "incident_id"
        }

        public init(command: SignedEnvelope, preview: SignedEnvelope?, incidentId: Int64?) {
            self.command = command
            self.preview = preview
            self.incidentId = incidentId
        }
    }

    public struct ApprovalRow: Codable, Sendable, Hashable {
        public var `operator`: String
        public var keyId: String
        public var at: Date
        enum CodingKeys: String, CodingKey {
            case `operator`, at
            case keyId = "key_id"
        }

        public init(operator: String, keyId: String, at: Date) {
            self.operator = `operator`
            self.keyId = keyId
            self.at = at
        }
    }

    public struct VerificationRow: Codable, Sendable, Hashable {
        public var checkId: String
        public var status: String
        public var summary: String
        enum CodingKeys: String, CodingKey {
            case status, summary
            case checkId = "check_id"
        }

        public init(checkId: String, status: String, summary: String) {
            self.checkId = checkId
            self.status = status
            self.summary = summary
        }
    }

    /// One remediation and everything that happened to it. `payload` is the command's exact bytes
    /// (base64): what an approver signs, after herdctl has decoded and shown them.
    public struct Remediation: Codable, Sendable, Hashable {
        /// proposed → approved → dispatched → succeeded | failed | timed_out | refused | lost; or denied,
        /// expired.
        public static let states = [
            "proposed", "approved", "dispatched", "succeeded", "failed", "timed_out", "refused", "lost", "denied",
            "expired",
        ]

        public var id: String
        public var instance: String
        public var agentId: String
        public var action: String
        public var parameters: [String]
        public var hostCommand: String
        public var risk: String
        public var reason: String
        public var requestedBy: String
        public var state: String
        public var requiredApprovals: Int
        public var approvals: [ApprovalRow]
        public var createdAt: Date
        public var expiresAt: Date
        public var dispatchedAt: Date?
        public var finishedAt: Date?
        public var detail: String?
        public var refusal: String?
        public var exitCode: Int32?
        public var outputTail: String?
        public var verification: [VerificationRow]
        public var incidentId: Int64?
        public var previewOf: String?
        public var payload: String
        enum CodingKeys: String, CodingKey {
            case id, instance, action, parameters, risk, reason, state, approvals, detail, refusal, verification
            case payload
            case agentId = "agent_id"
            case hostCommand = "host_command"
            case requestedBy = "requested_by"
            case requiredApprovals = "required_approvals"
            case createdAt = "created_at"
            case expiresAt = "expires_at"
            case dispatchedAt = "dispatched_at"
            case finishedAt = "finished_at"
            case exitCode = "exit_code"
            case outputTail = "output_tail"
            case incidentId = "incident_id"
            case previewOf = "preview_of"
        }

        public init(
            id: String, instance: String, agentId: String, action: String, parameters: [String], hostCommand: String,
            risk: String, reason: String, requestedBy: String, state: String, requiredApprovals: Int,
            approvals: [ApprovalRow], createdAt: Date, expiresAt: Date, dispatchedAt: Date?,
            finishedAt: Date?, detail: String?, refusal: String?, exitCode: Int32?, outputTail: String?,
            verification: [VerificationRow], incidentId: Int64?, previewOf: String?, payload: String
        ) {
            self.id = id
            self.instance = instance
            self.agentId = agentId
            self.action = action
            self.parameters = parameters
            self.hostCommand = hostCommand
            self.risk = risk
            self.reason = reason
            self.requestedBy = requestedBy
            self.state = state
            self.requiredApprovals = requiredApprovals
            self.approvals = approvals
            self.createdAt = createdAt
            self.expiresAt = expiresAt
            self.dispatchedAt = dispatchedAt
            self.finishedAt = finishedAt
            self.detail = detail
            self.refusal = refusal
            self.exitCode = exitCode
            self.outputTail = outputTail
            self.verification = verification
            self.incidentId = incidentId
            self.previewOf = previewOf
            self.payload = payload
        }
    }

    /// `GET /v1/remediations/ID`: the remediation and, for a proposal with a dry run, its preview.
    public struct RemediationDetail: Codable, Sendable, Hashable {
        public var remediation: Remediation
        public var preview: Remediation?

        public init(remediation: Remediation, preview: Remediation?) {
            self.remediation = remediation
            self.preview = preview
        }
    }

    /// The global kill switch: while frozen the controller dispatches nothing.
    public struct FreezeState: Codable, Sendable, Hashable {
        public var frozen: Bool
        public var by: String?
        public var at: Date?
        public var reason: String?

        public init(frozen: Bool, by: String?, at: Date?, reason: String?) {
            self.frozen = frozen
            self.by = by
            self.at = at
            self.reason = reason
        }
    }

    /// `GET /v1/remediations[?state=open|all]`
    public struct Remediations: Codable, Sendable, Hashable {
        public var remediations: [Remediation]
        public var freeze: FreezeState

        public init(remediations: [Remediation], freeze: FreezeState) {
            self.remediations = remediations
            self.freeze = freeze
        }
    }

    /// `POST /v1/remediations/ID/deny`, `POST /v1/remediations/freeze` and `/thaw`.
    public struct ReasonRequest: Codable, Sendable, Hashable {
        public var reason: String
        public init(reason: String) { self.reason = reason }
    }

    /// One row of the append-only audit log. `hash` = SHA-256 over the previous row's hash and this
    /// row's fields (Controller/README.md §Audit), so changing, deleting or reordering any row breaks
    /// every hash after it.
    public struct AuditEntry: Codable, Sendable, Hashable {
        public var id: Int64
        public var at: Double
        public var actor: String
        public var action: String
        public var subject: String
        public var detail: String
        public var hash: String

        public init(id: Int64, at: Double, actor: String, action: String, subject: String, detail: String, hash: String)
        {
            self.id = id
            self.at = at
            self.actor = actor
            self.action = action
            self.subject = subject
            self.detail = detail
            self.hash = hash
        }
    }

    /// `GET /v1/audit[?after=ID&limit=N]`
    public struct Audit: Codable, Sendable, Hashable {
        public var entries: [AuditEntry]
        public init(entries: [AuditEntry]) { self.entries = entries }
    }

    /// `GET /v1/audit/verify`: the whole chain recomputed; each problem names its row.
    public struct AuditVerification: Codable, Sendable, Hashable {
        public struct Problem: Codable, Sendable, Hashable {
            public var id: Int64
            public var problem: String
            public init(id: Int64, problem: String) {
                self.id = id
                self.problem = problem
            }
        }

        public var ok: Bool
        public var entries: Int
        public var problems: [Problem]
        /// The last row's hash: record it elsewhere to detect a rewrite of the whole chain later.
        public var headHash: String
        enum CodingKeys: String, CodingKey {
            case ok, entries, problems
            case headHash = "head_hash"
        }

        public init(ok: Bool, entries: Int, problems: [Problem], headHash: String) {
            self.ok = ok
            self.entries = entries
            self.problems = problems
            self.headHash = headHash
        }
    }
}
