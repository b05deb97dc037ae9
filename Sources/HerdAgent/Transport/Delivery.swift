import FoundationEssentials
import HerdProtocol
import Logging

/// Sends the outbox to the controller in order, oldest first, each message (report or command result)
/// signed again with a fresh `sent_at` on every attempt; removes one only when the controller
/// acknowledges its sequence.
/// Temporary failures (network, TLS, 5xx, 429, clock skew) back off exponentially with full jitter,
/// from 1 s to 5 min; a report the controller will never take is dropped and logged; revocation or an
/// unknown agent stops delivery (and says so loudly) with the outbox kept.
public final class Delivery: Sendable {
    public enum StopError: Error, Sendable, Equatable, CustomStringConvertible {
        case revoked(String)
        case unknownAgent(String)

        public var description: String {
            switch self {
            case .revoked(let why): "this agent has been revoked (\(why)): delivery stopped; re-enroll to resume"
            case .unknownAgent(let why): "the controller does not know this agent (\(why)): re-enroll"
            }
        }
    }

    /// What one attempt at the oldest report did.
    public enum Attempt: Sendable, Equatable {
        case empty
        case delivered(UInt64)
        case dropped(UInt64, String)
        /// The controller had accepted up to `lastAccepted` from this identity (state restored from a
        /// snapshot, or lost): `moved` waiting messages were renumbered past it. Try again at once.
        case renumbered(lastAccepted: UInt64, moved: Int)
        /// Try again after a pause.
        case retry(String)
    }

    let outbox: Outbox
    let client: ControllerClient
    let signer: MessageSigner
    let logger: Logger
    let clock: @Sendable () -> Date
    /// Where commands that ride back on an acknowledgement go (the executor).
    let commands: @Sendable ([SignedEnvelope]) -> Void
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>

    /// The pause after the n-th failure in a row (`Delivery.backoff`; tests fix it).
    let backoff: @Sendable (_ failures: Int) -> Duration

    public init(
        outbox: Outbox, client: ControllerClient, signer: MessageSigner, logger: Logger,
        clock: @escaping @Sendable () -> Date = { Date() },
        commands: @escaping @Sendable ([SignedEnvelope]) -> Void = { _ in },
        backoff: @escaping @Sendable (_ failures: Int) -> Duration = Delivery.backoff(failures:)
    ) {
        self.backoff = backoff
        self.commands = commands
        self.outbox = outbox
        self.client = client
        self.signer = signer
        self.logger = logger
        self.clock = clock
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// A new report is in the outbox.
    public func notify() { wake.yield() }

    /// Messages waiting in the outbox.
    public var outboxCount: Int { outbox.pending().count }

    /// Tries to deliver the oldest message once. Commands riding on the acknowledgement go to `commands`.
    public func attempt() async throws(StopError) -> Attempt {
        guard let message = outbox.oldest() else { return .empty }
        let sequence = message.sequence
        let envelope: SignedEnvelope
        do {
            switch message {
            case .report(var report):
                report.sentAt = clock()
                envelope = try signer.seal(report, as: .report)
            case .result(var result):
                result.sentAt = clock()
                envelope = try signer.seal(result, as: .commandResult)
            }
        } catch {
            outbox.remove(sequence)
            return .dropped(sequence, "cannot be signed: \(error.message)")
        }
        do {
            let answer: IngestResponse
            switch message {
            case .report: answer = try await client.send(report: envelope)
            case .result: answer = try await client.send(result: envelope)
            }
            guard answer.acknowledgedSequence == sequence else {
                return .retry("acknowledged \(answer.acknowledgedSequence) for \(sequence)")
            }
            outbox.remove(sequence)
            if !answer.commands.isEmpty { commands(answer.commands) }
            return .delivered(sequence)
        } catch {
            switch error {
            case .unreachable(let why): return .retry(why)
            case .unexpected(let status, let text): return .retry("HTTP \(status): \(text)")
            case .refused(let refusal):
                switch refusal.code {
                case .replayedSequence:
                    // The controller acknowledges a retry of its last accepted sequence, so this is no lost
                    // acknowledgement: it has newer messages from this identity than this outbox knows of.
                    return jumpAhead(past: refusal.lastAcceptedSequence, refused: sequence)
                case .clockSkew:
                    let offset = refusal.serverTime.map { Int($0.timeIntervalSince(clock()).rounded()) }
                    return .retry(
                        "clock skew: the controller's clock is \(offset.map { "\($0) s" } ?? "far") from ours; fix NTP")
                case .revoked: throw .revoked(refusal.message)
                case .unknownAgent: throw .unknownAgent(refusal.message)
                case .rateLimited, .unavailable, .internalError: return .retry("\(refusal.code): \(refusal.message)")
                default:
                    // malformed, invalid_field, too_large, bad_signature, identity_mismatch…: never passes.
                    outbox.remove(sequence)
                    return .dropped(sequence, "\(refusal.code): \(refusal.message)")
                }
            }
        }
    }

    /// Renumbers the outbox past the controller's last accepted sequence (Protocol/README.md §4), so
    /// that what this agent reported since its state went back in time is stored, not deleted.
    private func jumpAhead(past lastAccepted: UInt64?, refused sequence: UInt64) -> Attempt {
        guard let lastAccepted, lastAccepted > sequence else {
            return .retry("replayed_sequence for \(sequence) without a newer last_accepted_sequence")
        }
        do {
            let moves = try outbox.renumber(after: lastAccepted)
            logger.warning(
                "the controller has accepted newer messages from this agent than its state dir holds (restored from a snapshot, or lost): waiting messages renumbered past them",
                metadata: [
                    "last_accepted_sequence": "\(lastAccepted)", "refused_sequence": "\(sequence)",
                    "renumbered": "\(moves.count)",
                ])
            return .renumbered(lastAccepted: lastAccepted, moved: moves.count)
        } catch {
            return .retry("replayed_sequence: cannot renumber the outbox past \(lastAccepted): \(error)")
        }
    }

    /// Delivers until cancelled or stopped, waking when `notify` is called (a new report, which also
    /// cuts a backoff short) or a backoff ends.
    public func run() async throws(StopError) {
        var failures = 0
        var renumberings = 0
        var wakeups = wakes.makeAsyncIterator()
        while !Task.isCancelled {
            switch try await attempt() {
            case .delivered(let sequence):
                failures = 0
                renumberings = 0
                logger.debug("report delivered", metadata: ["sequence": "\(sequence)"])
            case .dropped(let sequence, let why):
                logger.error(
                    "report dropped: the controller will never take it",
                    metadata: ["sequence": "\(sequence)", "reason": "\(why)"])
            case .renumbered:
                // Logged where it happened. The renumbered oldest goes at once; a controller that keeps
                // asking for more is not followed in a tight loop.
                renumberings += 1
                if renumberings > 1 { try? await Task.sleep(for: backoff(renumberings - 1)) }
            case .retry(let why):
                failures += 1
                let pause = backoff(failures)
                logger.warning(
                    "delivery failed; retrying",
                    metadata: ["reason": "\(why)", "retry_in_s": "\(Int(pause.components.seconds))"])
                // A new report ends the wait early: after an outage the next cycle's report tries at
                // once instead of waiting out a backoff that may have grown to minutes. The cadence
                // of retries is then at most the report interval's.
                let timer = Task { [wake] in
                    try await Task.sleep(for: pause)
                    wake.yield()
                }
                _ = await wakeups.next()
                timer.cancel()
            case .empty:
                _ = await wakeups.next()
            }
        }
    }

    /// Full jitter over 1 s · 2^(failures−1), capped at 5 minutes.
    public static func backoff(failures: Int) -> Duration {
        let ceiling = min(300.0, pow2(max(0, failures - 1)))
        return .milliseconds(Int64(Double.random(in: 0.5...max(0.5, ceiling)) * 1000))
    }

    private static func pow2(_ n: Int) -> Double { n >= 9 ? 512 : Double(1 << n) }
}
