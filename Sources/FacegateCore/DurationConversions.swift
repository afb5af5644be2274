import Foundation

extension Duration {
    /// In seconds, as `Date` arithmetic and `TimeInterval` APIs want it.
    public var timeInterval: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// In milliseconds, as logs, the journal and the benchmarks report latencies.
    public var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
