import Synchronization

/// Wakes agents' long-polls when a command becomes dispatchable for them (approved, or a preview
/// proposed). An agent takes a `Ticket` *before* looking for commands, so that an approval landing
/// between the look and the wait still wakes it.
public final class CommandRelay: Sendable {
    private let tickets = Mutex<[String: [ObjectIdentifier: Ticket]]>([:])

    public init() {}

    public final class Ticket: Sendable {
        enum State {
            case waiting
            case parked(CheckedContinuation<Void, Never>)
            case done
        }

        private let state = Mutex(State.waiting)

        /// Returns when woken or after `timeout`, whichever is first.
        public func wait(for timeout: Duration) async {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await Task.sleep(for: timeout) }
                group.addTask { await self.park() }
                await group.next()
                self.finish()
                group.cancelAll()
            }
        }

        private func park() async {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    guard case .waiting = state else { return true }
                    state = .parked(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }

        func finish() {
            let parked = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state = .done }
                if case .parked(let continuation) = state { return continuation }
                return nil
            }
            parked?.resume()
        }
    }

    public func ticket(agentID: String) -> Ticket {
        let ticket = Ticket()
        tickets.withLock { $0[agentID, default: [:]][ObjectIdentifier(ticket)] = ticket }
        return ticket
    }

    public func release(_ ticket: Ticket, agentID: String) {
        ticket.finish()
        tickets.withLock { all in
            all[agentID]?[ObjectIdentifier(ticket)] = nil
            if all[agentID]?.isEmpty == true { all[agentID] = nil }
        }
    }

    /// Every open poll returns and looks (after a thaw).
    public func wakeAll() {
        let woken = tickets.withLock { all in
            defer { all.removeAll() }
            return all.values.flatMap(\.values)
        }
        for ticket in woken { ticket.finish() }
    }

    /// Something waits for `agentID`: every poll it has open returns and looks.
    public func wake(agentID: String) {
        let woken = tickets.withLock { $0.removeValue(forKey: agentID) } ?? [:]
        for ticket in woken.values { ticket.finish() }
    }
}
