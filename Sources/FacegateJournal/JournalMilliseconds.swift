import FacegateCore
import FacegateCore
import Foundation

extension Duration {
    /// Milliseconds as a real number, the unit the journal stores latencies in.
    var journalMilliseconds: Double { milliseconds }

    static func journalMilliseconds(_ value: Double) -> Duration {
        .nanoseconds(Int64((value * 1e6).rounded()))
    }
}
