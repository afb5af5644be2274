import FacegateCore
import FacegateOfflineCache
import FacegateTesting
import Foundation

/// Descriptors are any 128 finite floats: random unit-scale vectors from a seeded generator.
struct DescriptorGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed | 1 }

    private mutating func next() -> Float {
        // xorshift64*
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        let value = state &* 2_685_821_657_736_338_717
        return Float(value >> 40) / Float(1 << 24) - 0.5
    }

    mutating func descriptor() -> FaceDescriptor {
        try! FaceDescriptor((0..<FaceDescriptor.dimension).map { _ in next() * 0.2 })
    }

    /// The same face seen again: `base` moved a little.
    mutating func near(_ base: FaceDescriptor, by amount: Float) -> FaceDescriptor {
        try! FaceDescriptor(base.values.map { $0 + next() * amount })
    }
}

func makeCache(
    _ folder: TemporaryFolder, name: String = "cache.sqlite", key: OfflineCacheKey,
    configure: (inout OfflineFaceCache.Configuration) -> Void = { _ in }
) throws -> OfflineFaceCache {
    var configuration = OfflineFaceCache.Configuration(path: folder.file(name))
    configure(&configuration)
    return try OfflineFaceCache(configuration: configuration, key: key)
}

func randomKey() -> OfflineCacheKey {
    try! OfflineCacheKey(bytes: (0..<32).map { _ in UInt8.random(in: 0...255) })
}

/// The shape the pipeline sees the cache through (`OfflineFaceStore` in FacegateApp): this fails to
/// compile if the cache stops fitting it.
protocol PipelineOfflineStoreShape: Sendable {
    func remember(
        subjectId: String, tags: Set<String>, grantedUnder scope: Set<String>, score: GrantScore?, descriptor: FaceDescriptor, at time: Date
    ) async throws
    func match(
        _ descriptor: FaceDescriptor, at time: Date, stillSearches: @escaping @Sendable (Set<String>?) -> Bool,
        stillGrants: @escaping @Sendable (GrantScore?) -> Bool
    ) async throws -> [MatchCandidate]
}

extension OfflineFaceCache: PipelineOfflineStoreShape {}
