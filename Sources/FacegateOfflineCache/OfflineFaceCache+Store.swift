import FacegateCore
import Foundation

extension OfflineFaceCache: OfflineFaceStore {
    public func remember(
        subjectId: String, tags: Set<String>, grantedUnder policy: DoorPolicy, score: Double, unit: ScoreUnit, descriptor: FaceDescriptor,
        at time: Date
    ) async throws {
        try await remember(
            subjectId: subjectId, tags: tags, grantedUnder: policy.searchScope, score: GrantScore(value: score, unit: unit),
            descriptor: descriptor, at: time)
    }

    public func match(_ descriptor: FaceDescriptor, at time: Date, policy: DoorPolicy) async throws -> [MatchCandidate] {
        try await match(
            descriptor, at: time, stillSearches: { policy.stillSearches(grantedUnder: $0) },
            stillGrants: { policy.stillGrants(cloudScore: $0?.value, unit: $0?.unit) })
    }

    public func forget(subjects: Set<String>) async throws -> Int {
        try await purge(subjectIds: subjects)
    }

    public func forgetFaces(rememberedAfter time: Date) async throws -> Int {
        try await purge(rememberedAfter: time)
    }

    public func forgetExpired(at time: Date) async throws -> Int {
        let purged = try await purgeExpired(at: time)
        return purged.faces + purged.pendingRechecks
    }
}
