@testable import FacegateApp
import Testing

/// The cloud's health as the decisions see it: after a failure visits skip the cloud, and a backend
/// without a probe lets one visit per retry interval try it again.
@Suite(.timeLimit(.minutes(5)))
struct CloudHealthTests {
    let start = ContinuousClock.now

    @Test func aHealthyCloudIsAsked() {
        var health = CloudHealth<ContinuousClock.Instant>(retryInterval: .seconds(5), hasProbe: true)
        #expect(health.outageToSkip(at: start) == nil)
    }

    @Test func afterAFailureVisitsSkipTheCloudUntilItAnswers() {
        var health = CloudHealth<ContinuousClock.Instant>(retryInterval: .seconds(5), hasProbe: true)
        health.failed("unreachable: connection refused", at: start)
        let skipped = health.outageToSkip(at: start + .seconds(30))
        #expect(skipped?.hasPrefix("unreachable: connection refused") == true)
        #expect(health.outageToSkip(at: start + .seconds(59)) != nil, "with a probe watching, visits skip the cloud")
        #expect(health.answered(at: start + .seconds(58)) == .seconds(58))
        #expect(health.outageToSkip(at: start + .seconds(59)) == nil)
        #expect(health.answered(at: start + .seconds(60)) == nil, "answers while healthy report no outage")
    }

    /// A probe that keeps failing while searches would work (a health call a gateway blocks) must not keep
    /// the door offline for good, every cached face ageing out meanwhile: a visit tries the cloud itself once
    /// a minute (review: before, only the probe could end an outage).
    @Test func withAProbeOneVisitAMinuteStillTriesTheCloud() {
        var health = CloudHealth<ContinuousClock.Instant>(retryInterval: .seconds(5), hasProbe: true)
        health.failed("the health call failed", at: start)
        #expect(health.outageToSkip(at: start + .seconds(59)) != nil)
        #expect(health.outageToSkip(at: start + .seconds(60)) == nil, "the trial visit")
        #expect(health.outageToSkip(at: start + .seconds(61)) != nil)
        // The trial found it away again (its probe failing too): the next trial a minute on.
        health.failed("timeout", at: start + .seconds(62))
        #expect(health.outageToSkip(at: start + .seconds(119)) != nil)
        #expect(health.outageToSkip(at: start + .seconds(120)) == nil)
    }

    @Test func withoutAProbeOneVisitPerIntervalTriesTheCloud() {
        var health = CloudHealth<ContinuousClock.Instant>(retryInterval: .seconds(5), hasProbe: false)
        health.failed("timeout", at: start)
        #expect(health.outageToSkip(at: start + .seconds(1)) != nil)
        #expect(health.outageToSkip(at: start + .seconds(5)) == nil, "the trial visit")
        #expect(health.outageToSkip(at: start + .seconds(6)) != nil, "the next waits for the following interval")
        health.failed("timeout again", at: start + .seconds(7))
        #expect(health.outageToSkip(at: start + .seconds(8))?.hasPrefix("timeout again") == true)
        #expect(health.outageToSkip(at: start + .seconds(10)) == nil)
    }
}
