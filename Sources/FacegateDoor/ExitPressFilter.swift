/// Edges of the request-to-exit line turned into presses. A press counts only when the button still
/// reads pressed `hold` after its edge: a spike on a long cable (the strike's coil kicking back as it
/// relocks, a motor starting nearby) is an edge too, and would unlock the door it was never asked to.
/// Presses closer together than `debounce` count once. Pure: the line's watcher feeds it edges and
/// the level it reads when ``isDue(at:)`` says.
public struct ExitPressFilter: Sendable {
    public let hold: Duration
    public let debounce: Duration
    /// The first edge not yet judged.
    private var edgeAt: ContinuousClock.Instant?
    private var lastPress: ContinuousClock.Instant?

    public init(hold: Duration, debounce: Duration) {
        self.hold = hold
        self.debounce = debounce
    }

    /// A rising edge was seen at `time`.
    public mutating func edge(at time: ContinuousClock.Instant) {
        if edgeAt == nil { edgeAt = time }
    }

    /// How long until the level must be read (zero when it must be now); nil with no edge waiting.
    public func wait(at time: ContinuousClock.Instant) -> Duration? {
        edgeAt.map { max(.zero, hold - (time - $0)) }
    }

    /// Whether an edge waits for its level to be read now.
    public func isDue(at time: ContinuousClock.Instant) -> Bool { wait(at: time) == .zero }

    /// The level read `hold` after the edge: whether it is a press to report.
    public mutating func judge(pressed: Bool, at time: ContinuousClock.Instant) -> Bool {
        guard isDue(at: time) else { return false }
        edgeAt = nil
        guard pressed else { return false }
        if let lastPress, time - lastPress < debounce { return false }
        lastPress = time
        return true
    }
}
