import Foundation

/// Whether the door's wall clock agrees with the cloud's: schedules and offline grants read it.
public enum ClockCheck {
    /// Why `wall` cannot be trusted, read against the cloud's time `cloud` at the same moment; nil when
    /// they agree within `tolerance` (a few boxes' clocks and a reply's second-resolution `Date` differ
    /// that much).
    public static func disagreement(wall: Date, cloud: Date, tolerance: TimeInterval) -> String? {
        let ahead = wall.timeIntervalSince(cloud)
        guard abs(ahead) > tolerance else { return nil }
        return "the clock reads \(span(abs(ahead))) \(ahead > 0 ? "ahead of" : "behind") the cloud's"
    }

    /// No door runs this facegate before it was released: a clock reading earlier has been reset (a box
    /// without a real-time clock, booted without systemd's clock epoch). Moved on at a release.
    public static let earliestPlausibleTime = Date(timeIntervalSince1970: 1_793_491_200)  // 2026-11-01T00:00:00Z

    /// A clock's error as an installer reads it: "6 min", "2 h 5 min", "365 days".
    static func span(_ seconds: TimeInterval) -> String {
        let minutes = Int((seconds / 60).rounded())
        if minutes < 60 { return "\(minutes) min" }
        if minutes < 48 * 60 { return minutes % 60 == 0 ? "\(minutes / 60) h" : "\(minutes / 60) h \(minutes % 60) min" }
        return "\(Int((seconds / 86_400).rounded())) days"
    }
}
