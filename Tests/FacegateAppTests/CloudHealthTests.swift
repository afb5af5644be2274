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
        let skipped = health.outageToSkip(at: start + .seconds(60))
        #expect(skipped?.hasPrefix("unreachable: connection refused") == true)
        // With a probe, no visit is spent on trying: only the probe brings it back.
        #expect(health.outageToSkip(at: start + .seconds(600)) != nil)
        #expect(health.answered(at: start + .seconds(61)) == .seconds(61))
        #expect(health.outageToSkip(at: start + .seconds(62)) == nil)
        #expect(health.answered(at: start + .seconds(63)) == nil, "answers while healthy report no outage")
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
