import FacegateDoor
import Testing

/// The exit button's edges become presses only when the button still reads pressed after the hold: a
/// spike on the cable (a relocking strike's kickback) is an edge too, and must not unlock the door.
@Suite(.timeLimit(.minutes(1))) struct ExitPressFilterTests {
    let start = ContinuousClock.now
    func at(_ ms: Int) -> ContinuousClock.Instant { start + .milliseconds(ms) }

    @Test("a spike that is gone when the level is read is no press; a held press is one")
    func aSpikeIsNoPress() {
        var filter = ExitPressFilter(hold: .milliseconds(30), debounce: .milliseconds(300))
        #expect(filter.wait(at: at(0)) == nil)
        filter.edge(at: at(0))
        #expect(filter.wait(at: at(10)) == .milliseconds(20))
        #expect(!filter.isDue(at: at(29)))
        let early = filter.judge(pressed: true, at: at(29))
        #expect(!early, "not judged before the hold")
        #expect(filter.isDue(at: at(30)))
        let spike = filter.judge(pressed: false, at: at(30))
        #expect(!spike, "released again: a spike")
        #expect(filter.wait(at: at(31)) == nil, "judged: nothing waits")

        filter.edge(at: at(500))
        let held = filter.judge(pressed: true, at: at(530))
        #expect(held, "still pressed after the hold")
    }

    @Test("presses closer together than the debounce count once; edges while one waits are one")
    func debounce() {
        var filter = ExitPressFilter(hold: .milliseconds(30), debounce: .milliseconds(300))
        filter.edge(at: at(0))
        filter.edge(at: at(5))  // the contacts bounce
        #expect(filter.wait(at: at(5)) == .milliseconds(25), "timed from the first edge")
        let first = filter.judge(pressed: true, at: at(30))
        #expect(first)
        filter.edge(at: at(100))
        let again = filter.judge(pressed: true, at: at(130))
        #expect(!again, "within the debounce of the last press")
        filter.edge(at: at(400))
        let later = filter.judge(pressed: true, at: at(430))
        #expect(later)
    }
}
