import AsyncHTTPClient
import FacegateEmulators
import FacegateIdentify
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import FacegateTesting

/// The client against the live emulator: tenancy, tags, signatures and keys.
@Suite(.timeLimit(.minutes(5))) struct EmulatorPortalAndAuthTests {
    func expect<T>(_ code: NECIDError.Code, _ call: () async throws(NECIDError) -> T) async {
        do {
            let value = try await call()
            Issue.record("expected \(code), got \(value)")
        } catch {
            #expect(error.code == code, "\(error)")
            #expect(!error.description.contains(NECEmulatorHarness.secretKey))
        }
    }

    @Test func healthAnswersOK() async throws {
        try await withNECEmulator { emulator in
            let health = try await emulator.client().health()
            #expect(health.status == "OK")
        }
    }

    @Test func galleriesAndApplicationsLifecycle() async throws {
        try await withNECEmulator { emulator in
            let client = emulator.client()
            let initial = try await client.listGalleries()
            #expect(initial.count == 1, "a fresh emulator has the gallery of --api-key")

            let created = try await client.createGallery(name: "Staff", description: "Staff", faceMinimumQualityScore: 0.6, size: 100)
            #expect(created.name == "Staff")
            #expect(created.size == 100)
            let apiKey = try #require(created.apiKey)
            #expect(!apiKey.isEmpty)
            do {
                _ = try await client.createGallery(name: "Staff")
                Issue.record("a second gallery named Staff was created")
            } catch let error as NECIDError {
                #expect(error.code == .duplicate)
                #expect(!error.message.contains(apiKey), "the existing key stays out of the error")
            }

            let fetched = try await client.gallery(id: created.id)
            #expect(fetched.count == 0)
            #expect(fetched.applications?.first?.apiKey == apiKey)
            #expect(try await client.listGalleries().count == 2)

            let grown = try await client.updateGallery(id: created.id, description: "All staff", size: 200)
            #expect(grown.size == 200)
            #expect(grown.description == "All staff")
            await expect(.invalidRequest) { () throws(NECIDError) in try await client.updateGallery(id: created.id, size: 50) }

            let application = try await client.createApplication(
                name: "Door 2", description: "Back door", faceMinimumQualityScore: 0.5, galleryID: created.id)
            #expect(application.faceMinimumQualityScore == 0.5)
            #expect(try await client.application(id: application.id).name == "Door 2")
            #expect(try await client.listApplications().contains { $0.id == application.id })
            let renamed = try await client.updateApplication(id: application.id, name: "Door B", faceMinimumQualityScore: 0.7)
            #expect(renamed.name == "Door B")
            #expect(renamed.faceMinimumQualityScore == 0.7)
            await expect(.invalidRequest) { () throws(NECIDError) in
                try await client.createApplication(name: "x", galleryID: "no-such-gallery")
            }

            // The new gallery's key reaches its own, empty gallery.
            let galleryClient = emulator.client(apiKey: apiKey)
            try await galleryClient.createTag("visitors")
            #expect(try await galleryClient.listTags() == ["visitors"])
            #expect(try await client.listTags().isEmpty)

            try await client.deleteApplication(id: application.id)
            await expect(.notFound) { () throws(NECIDError) in try await client.application(id: application.id) }
            try await client.deleteGallery(id: created.id)
            await expect(.notFound) { () throws(NECIDError) in try await client.gallery(id: created.id) }
            await expect(.apiKeyRejected) { () throws(NECIDError) in try await galleryClient.listTags() }
        }
    }

    @Test func tagsLifecycleAndLimit() async throws {
        try await withNECEmulator { emulator in
            let client = emulator.client()
            #expect(try await client.listTags().isEmpty)
            try await client.createTag("staff")
            await expect(.duplicate) { () throws(NECIDError) in try await client.createTag("staff") }
            try await client.renameTag("staff", to: "employees")
            #expect(try await client.listTags() == ["employees"])
            await expect(.notFound) { () throws(NECIDError) in try await client.renameTag("staff", to: "x") }
            try await client.deleteTag("employees")
            await expect(.notFound) { () throws(NECIDError) in try await client.deleteTag("employees") }
            // "Tags must be created first": a tag that does not exist is refused.
            let photo = try face("bbt_amy/01.png")
            await expect(.invalidRequest) { () throws(NECIDError) in try await client.registerSubject(face: photo, tags: ["ghost"]) }
            // Names that need percent-encoding are signed and routed like any other.
            try await client.createTag("night shift/ß ✓")
            #expect(try await client.listTags() == ["night shift/ß ✓"])
            try await client.renameTag("night shift/ß ✓", to: "a+b=c&d")
            try await client.deleteTag("a+b=c&d")
            for index in 0..<64 { try await client.createTag("tag\(index)") }
            await expect(.invalidRequest) { () throws(NECIDError) in try await client.createTag("one-too-many") }
            #expect(try await client.listTags().count == 64)
        }
    }

    @Test func signaturesAndKeysAreChecked() async throws {
        try await withNECEmulator { emulator in
            await expect(.signatureRejected) { () throws(NECIDError) in
                try await emulator.client(secretKey: "not-the-secret-key-at-all-0000000000000").listTags()
            }
            await expect(.signatureRejected) { () throws(NECIDError) in try await emulator.client(accessKey: "AKIDUNKNOWN").listTags() }
            await expect(.signatureRejected) { () throws(NECIDError) in try await emulator.client(region: "us-east-1").listTags() }
            await expect(.apiKeyRejected) { () throws(NECIDError) in try await emulator.client(apiKey: "wrong-key").listTags() }
            await expect(.apiKeyRejected) { () throws(NECIDError) in try await emulator.client(apiKey: nil).listSubjects() }
            // Portal calls need the signature but no key.
            let galleries = try await emulator.client(apiKey: nil).listGalleries()
            #expect(galleries.count == 1)
        }
    }

    @Test func unsignedAndTamperedRequestsAreRefused() async throws {
        try await withNECEmulator { emulator in
            // No Authorization at all.
            var plain = HTTPClientRequest(url: emulator.endpoint + "/v1.1/tags")
            plain.headers.add(name: "x-api-key", value: NECEmulatorHarness.apiKey)
            let unsigned = try await emulator.httpClient.execute(plain, timeout: .seconds(30))
            #expect(unsigned.status == .forbidden)
            #expect(String(buffer: try await unsigned.body.collect(upTo: 1 << 16)).contains("Missing Authentication Token"))

            // Signed, then the body changed on the way.
            let signer = SigV4Signer(
                credentials: AWSCredentials(accessKeyID: NECEmulatorHarness.accessKey, secretAccessKey: NECEmulatorHarness.secretKey))
            var tampered = HTTPClientRequest(url: emulator.endpoint + "/v1.1/tags/staff")
            tampered.method = .PUT
            tampered.headers.add(name: "x-api-key", value: NECEmulatorHarness.apiKey)
            tampered.headers.add(name: "content-type", value: "application/json")
            try tampered.signSigV4(with: signer, body: Array(#"{"newName":"a"}"#.utf8), at: Date())
            tampered.body = .bytes(ByteBuffer(string: #"{"newName":"b"}"#))
            let rejected = try await emulator.httpClient.execute(tampered, timeout: .seconds(30))
            #expect(rejected.status == .forbidden)
            #expect(String(buffer: try await rejected.body.collect(upTo: 1 << 16)).contains("does not match"))

            // Correctly signed but without the mandatory face: 1001.
            var missingFace = HTTPClientRequest(url: emulator.endpoint + "/v1.1/subjects")
            missingFace.method = .POST
            missingFace.headers.add(name: "x-api-key", value: NECEmulatorHarness.apiKey)
            missingFace.headers.add(name: "content-type", value: "application/json")
            let body = Array(#"{"tags":[]}"#.utf8)
            try missingFace.signSigV4(with: signer, body: body, at: Date())
            missingFace.body = .bytes(ByteBuffer(bytes: body))
            let invalid = try await emulator.httpClient.execute(missingFace, timeout: .seconds(30))
            #expect(invalid.status == .badRequest)
            let text = String(buffer: try await invalid.body.collect(upTo: 1 << 16))
            #expect(text.contains("\"errorCode\":1001"))
            #expect(text.contains("face property must be provided."))

            // Unknown routes answer as API Gateway does.
            let unknown = try await emulator.client().perform(NECIDCall.listTags())
            #expect(unknown.status == 200)
        }
    }

    @Test func expiredSignatureCorrectsTheClockAndRetries() async throws {
        try await withNECEmulator { emulator in
            // This box's clock runs ten minutes slow: the first request is "expired".
            let slow = emulator.client(now: { Date().addingTimeInterval(-600) })
            #expect(try await slow.listTags().isEmpty)
            let offset = await slow.clockOffset
            #expect(offset > 500 && offset < 700)
            // Later calls go straight through with the corrected time.
            try await slow.createTag("after-skew")

            let fast = emulator.client(now: { Date().addingTimeInterval(900) })
            #expect(try await fast.listTags() == ["after-skew"])
            #expect(await fast.clockOffset < -800)
        }
    }

    @Test func scoreMappingIsTheDocumentedLogistic() {
        #expect(NECMatchScore.score(distance: 0.40) == 9046)
        #expect(NECMatchScore.score(distance: 0.49) >= 7000)
        #expect(NECMatchScore.score(distance: 0.50) < 7000)
        #expect((4999...5000).contains(NECMatchScore.score(distance: 0.55)))
        #expect(NECMatchScore.score(distance: 0.65) == 1824)
        #expect(NECMatchScore.score(distance: 0) <= 9999)
        #expect(NECMatchScore.score(distance: 3) >= 0)
    }
}
