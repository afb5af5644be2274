import FacegateCore
import FacegateIdentify
import Foundation

extension NECFaceSearch: CloudReachability {
    /// NEC ID's health endpoint: no search spent, no face sent.
    public func checkReachable() async throws {
        do {
            _ = try await client.health()
        } catch {
            throw Self.classify(error)
        }
    }
}

extension NECFaceSearch: CloudClockWitness {
    /// The time NEC ID's replies state (every call of the client's, the revocation sync's too).
    public func cloudTime(at instant: RawMonotonicInstant) -> Date? { client.cloudClock?.cloudTime(at: instant) }
}
