import AsyncHTTPClient
import FacegateCore
@testable import FacegateApp
import FacegateIdentify
import Foundation
import FacegateTesting
import Testing

/// NEC ID replies the document does not give, from a real server on loopback: a 200 without the list it
/// documents may read neither as "nobody" nor as "everyone gone".
@Suite(.timeLimit(.minutes(1)))
struct NECUndocumentedReplyTests {
    static let policy = DoorPolicy(door: "front", threshold: 7000, scoreUnit: .necScore, searchTags: ["staff"])
    static let probe = ProbeFace(jpeg: [0xFF, 0xD8, 0xFF, 0xD9], quality: nil)
    static let cachedAt = Date(timeIntervalSince1970: 1_800_000_000)

    static func client(_ endpoint: String) -> NECIDClient {
        NECIDClient(
            configuration: NECIDConfiguration(
                endpoint: endpoint, credentials: AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "secret"), apiKey: "key",
                http: CloudHTTPPolicy(requestTimeout: .seconds(5), maxAttempts: 1)),
            httpClient: HTTPClient.shared)
    }

    // MARK: A 200 without the documented list

    @Test("a search answered 200 without candidates fails: it is not \"no match\" (NEC ID's 404)", arguments: ["{}", #"{"attributes":null}"#])
    func searchWithoutCandidates(body: String) async throws {
        let error = try await withFaultyCloud(.reply(status: 200, body: body)) { endpoint in
            await #expect(throws: NECIDError.self) {
                try await NECFaceSearch(client: Self.client(endpoint)).search(Self.probe, policy: Self.policy)
            }
        }
        #expect(error?.code == .malformedResponse)
    }

    @Test(
        "a subject list answered 200 without subjects or their total fails the sync: nothing cached is purged on its word",
        arguments: ["{}", #"{"total":0}"#, #"{"subjects":[]}"#])
    func listWithoutSubjects(body: String) async throws {
        let error = try await withFaultyCloud(.reply(status: 200, body: body)) { endpoint in
            await #expect(throws: NECIDError.self) {
                try await NECFaceSearch(client: Self.client(endpoint)).revokedSubjects(among: ["alice": Self.cachedAt], policy: Self.policy)
            }
        }
        #expect(error?.code == .malformedResponse)
    }
}
