import Synchronization

/// A flag set once by one task and read by another, possibly a blocking thread between two waits (a
/// capture loop, a GPIO watcher) or a loop deciding whether to go on (the watchdog after a door failure).
public final class SetOnceFlag: Sendable {
    private let flag = Atomic(false)

    public init() {}

    public var isSet: Bool { flag.load(ordering: .acquiring) }

    public func set() { flag.store(true, ordering: .releasing) }
}
