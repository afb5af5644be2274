import FacegateCore
import FacegateIdentify

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
