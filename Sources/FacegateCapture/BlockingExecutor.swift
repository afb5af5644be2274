import Dispatch

/// Runs blocking calls (read, ioctl, poll, decoding) on a private serial queue,
/// so they never hold a thread of Swift's cooperative pool.
///
/// One executor per device or process: calls on it run one at a time, in order.
final class BlockingExecutor: Sendable {
    private let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    func run<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Swift.Result { try body() })
            }
        }
    }
}
