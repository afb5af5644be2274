import FacegateCore
import FacegateIdentify

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
