import FacegateApp
import FacegateCore
import FacegateIdentify
import FacegateOfflineCache
import FacegateTesting
import Foundation
import Synchronization
import Testing

/// The daemon itself runs the revocation sync, on `offline_cache.revocation_sync_seconds`: a subject
/// unregistered in NEC ID while the door runs leaves the offline cache at the next sync, without a restart
/// and without a visit. An in-process door (`DoorControllerService`) on the NEC ID emulator.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct RevocationSyncWiringTests {
    @Test func theRunningDoorSyncsRevocationsOnItsConfiguredInterval() async throws {
        try await DoorRig.with { rig in
            let subject = try await rig.enrol(DoorControllerEndToEndTests.enrolledPhoto)
            rig.configuration.backend.decisionDeadline = .seconds(2)
            let online = try await rig.runDoor(visitors: [DoorControllerEndToEndTests.enrolledWalksUp])
            #expect(online.outcomes.map(\.record.decision.outcome) == [.granted])
            let observer = try rig.cache()
            #expect(try await observer.cachedSubjectIds() == [subject], "her face cached by the online grant")

            rig.configuration.offlineCache.revocationSyncInterval = .milliseconds(100)
            let directory = SyncCountingSearch(NECFaceSearch(client: rig.client))
            let camera = IdleCamera()
            async let run = rig.runDoor(source: camera, search: directory)
            let clock = ContinuousClock()
            // The sync the door runs as it starts has read NEC ID while she is still there: kept. Only a later
            // sync, on the interval, can find her gone (with the default 600 s none would within this test).
            var deadline = clock.now.advanced(by: .seconds(20))
            while directory.syncs == 0, clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            let syncedBefore = directory.syncs
            #expect(syncedBefore > 0, "the running door never synced revocations")
            #expect(try await observer.cachedSubjectIds() == [subject], "kept while NEC ID still has her")

            try await rig.client.unregisterSubject(id: subject)
            deadline = clock.now.advanced(by: .seconds(5))
            while try await !observer.cachedSubjectIds().isEmpty, clock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            let left = try await observer.cachedSubjectIds()
            let syncedAfter = directory.syncs
            camera.end()
            _ = try await run
            await observer.close()
            #expect(left.isEmpty, "still cached after \(syncedAfter - syncedBefore) more syncs")
        }
    }
}

/// The door's NEC ID search and directory, counting the revocation syncs that the cloud answered.
final class SyncCountingSearch: FaceSearch, CloudDirectory {
    let inner: NECFaceSearch
    private let answered = Mutex(0)

    init(_ inner: NECFaceSearch) { self.inner = inner }

    var syncs: Int { answered.withLock { $0 } }
    var backendName: String { inner.backendName }
    var scoreUnit: ScoreUnit { inner.scoreUnit }

    func search(_ probe: ProbeFace, policy: DoorPolicy) async throws -> [MatchCandidate] {
        try await inner.search(probe, policy: policy)
    }

    func revokedSubjects(among subjects: [String: Date], policy: DoorPolicy) async throws -> Set<String> {
        let revoked = try await inner.revokedSubjects(among: subjects, policy: policy)
        answered.withLock { $0 += 1 }
        return revoked
    }
}

/// A camera that shows nobody until it is ended.
final class IdleCamera: FrameSource {
    private let continuation = Mutex<AsyncThrowingStream<Frame, any Error>.Continuation?>(nil)
    private let ended = Mutex(false)

    func frames() -> AsyncThrowingStream<Frame, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: Frame.self, throwing: (any Error).self)
        if ended.withLock({ $0 }) { continuation.finish() }
        self.continuation.withLock { $0 = continuation }
        return stream
    }

    func end() {
        ended.withLock { $0 = true }
        continuation.withLock { $0?.finish() }
    }
}
