import Synchronization

/// Counts calls from any thread: a loopback server that answers the first request one way and a retry
/// another reads its turn from one.
public final class CallCounter: Sendable {
    private let count = Mutex(0)

    public init() {}

    /// This call's number, from 1.
    public func next() -> Int { count.withLock { $0 += 1; return $0 } }
}
