/// Asks `question` again every `interval` until `done` holds of its answer, or `limit` has passed; returns
/// the last answer, for the test to say what it expected of it (a `/health` polled until a part reads a
/// status, a door until its relay moved).
public func askUntil<Answer>(
    within limit: Duration = .seconds(10), every interval: Duration = .milliseconds(50),
    _ question: () async throws -> Answer, until done: (Answer) -> Bool
) async throws -> Answer {
    let deadline = ContinuousClock.now + limit
    while true {
        let answer = try await question()
        if done(answer) || ContinuousClock.now >= deadline { return answer }
        try await Task.sleep(for: interval)
    }
}
