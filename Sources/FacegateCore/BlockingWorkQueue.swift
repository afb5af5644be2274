import Dispatch

/// Runs blocking calls (dlib inference, ioctl, read, poll) on a private serial queue, so they never
/// hold a thread of Swift's cooperative pool. Calls on one queue run one at a time, in order.
public final class BlockingWorkQueue: Sendable {
    private let queue: DispatchQueue

    public init(label: String) {
        queue = DispatchQueue(label: label)
    }

    public func run<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Swift.Result { try body() }) }
        }
    }

    /// Queues work nobody waits for (closing a device as its owner goes away), after the calls before it.
    public func runDetached(_ body: @escaping @Sendable () -> Void) {
        queue.async(execute: body)
    }
}

/// The operation's result, or `DeadlineExceeded` once `deadline` passes (the operation is then cancelled).
public func withDeadline<Result: Sendable>(
    _ deadline: ContinuousClock.Instant, operation: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withDeadline(deadline, on: ContinuousClock(), operation: operation)
}

/// The operation's result, or `DeadlineExceeded` once `clock` reaches `deadline` (the operation is
/// then cancelled). The clock is the caller's, so that a test can pass the deadline without waiting.
public func withDeadline<Result: Sendable, DeadlineClock: Clock>(
    _ deadline: DeadlineClock.Instant, on clock: DeadlineClock, operation: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await clock.sleep(until: deadline, tolerance: nil)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else { throw DeadlineExceeded() }
        return result
    }
}

public struct DeadlineExceeded: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "deadline exceeded" }
}
