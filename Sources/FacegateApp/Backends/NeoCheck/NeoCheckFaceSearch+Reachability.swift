import FacegateCore
import FacegateIdentify
import Foundation

extension NeoCheckFaceSearch: CloudReachability {
    /// The service's token endpoint, asked without credentials: no budget spent, no face sent.
    public func checkReachable() async throws {
        do {
            try await client.checkReachable()
        } catch {
            throw Self.classify(error)
        }
    }
}

extension NeoCheckFaceSearch: CloudClockWitness {
    /// The time NeoCheck's replies state (the token service's and every call of the client's).
    public func cloudTime(at instant: RawMonotonicInstant) -> Date? { client.cloudClock?.cloudTime(at: instant) }
}
