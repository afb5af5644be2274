import FacegateCore
import FacegateDoor
import Synchronization

/// Asks the door how its relay is doing, for the health loop, `/health` and `facegate status`, without
/// waiting on a hung door. A relay write that never returns (a GPIO expander's bus hung in the ioctl)
/// holds the door's actor, and everything that awaits it with it: so at most one question is in flight
/// (asking again while it is unanswered piles nothing up behind the door), and each asker waits for the
/// answer only until that question is ``limit`` old.
final class DoorAnswers: Sendable {
    enum Answer: Sendable {
        /// What the door said: its unlocks in a row that failed, nil when the last one unlocked.
        case answered(FailedUnlocks?)
        /// The door has left the question unanswered for this long, past the limit.
        case silent(for: Duration)
    }

    private struct State {
        var failedUnlocks: FailedUnlocks?
        /// When the question in flight was asked; nil when none is.
        var askedSince: ContinuousClock.Instant?
        var waiting: [Int: CheckedContinuation<Answer, Never>] = [:]
        var nextWaiter = 0
    }

    private let door: DoorController
    /// Past this without an answer the door is hung: far past one ioctl, well inside `WatchdogSec=30`.
    let limit: Duration
    private let state = Mutex(State())

    init(door: DoorController, limit: Duration) {
        self.door = door
        self.limit = limit
    }

    /// Why a door silent for `waited` counts as hung, for `/health`, `STATUS=` and the log.
    static func hang(silentFor waited: Duration) -> String {
        "the door has not answered for \(Int(waited.timeInterval)) s: a relay write has not returned"
    }

    /// The door's last answer (nil until it has answered once, and after an unlock that worked).
    var failedUnlocks: FailedUnlocks? { state.withLock { $0.failedUnlocks } }

    /// How the door is hung, when the question in flight has gone unanswered for longer than ``limit``.
    var hang: String? {
        guard let since = state.withLock({ $0.askedSince }) else { return nil }
        let waited = since.duration(to: .now)
        return waited > limit ? Self.hang(silentFor: waited) : nil
    }

    /// Asks the door, unless a question is already in flight; does not wait for the answer.
    func ask() {
        let isNew = state.withLock { state in
            guard state.askedSince == nil else { return false }
            state.askedSince = .now
            return true
        }
        guard isNew else { return }
        Task { [door] in answered(await door.failedUnlocks) }
    }

    /// The answer to a question asked now (or to the one in flight), waited for until that question is
    /// ``limit`` old; without waiting when the door is already known to be hung.
    func answer() async -> Answer {
        ask()
        return await withCheckedContinuation { continuation in
            enum Next { case resume(Answer), wait(id: Int, until: ContinuousClock.Instant) }
            let next = state.withLock { state -> Next in
                guard let since = state.askedSince else { return .resume(.answered(state.failedUnlocks)) }
                let waited = since.duration(to: .now)
                if waited > limit { return .resume(.silent(for: waited)) }
                let id = state.nextWaiter
                state.nextWaiter += 1
                state.waiting[id] = continuation
                return .wait(id: id, until: since + limit)
            }
            switch next {
            case .resume(let answer):
                continuation.resume(returning: answer)
            case .wait(let id, let deadline):
                Task {
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    let late = state.withLock { state in
                        state.waiting.removeValue(forKey: id).map { ($0, state.askedSince.map { $0.duration(to: .now) } ?? .zero) }
                    }
                    if let (continuation, waited) = late { continuation.resume(returning: .silent(for: waited)) }
                }
            }
        }
    }

    private func answered(_ failedUnlocks: FailedUnlocks?) {
        let waiting = state.withLock { state in
            state.failedUnlocks = failedUnlocks
            state.askedSince = nil
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for continuation in waiting { continuation.resume(returning: .answered(failedUnlocks)) }
    }
}
