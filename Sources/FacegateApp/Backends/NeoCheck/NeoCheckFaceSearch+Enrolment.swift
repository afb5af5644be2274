import FacegateCore
import FacegateIdentify
import Foundation

/// Enrolment through NeoCheck FaceCheck: a face record (`POST v1/face`) added to a face list
/// (`POST v1/face/list/AddFaceRecord`); a record the list will not take is deleted again.
extension NeoCheckFaceSearch: FaceEnrolling {
    public func problem(with request: EnrolmentRequest, policy: DoorPolicy) -> String? {
        if !request.tags.isEmpty || request.subject != nil {
            return "NeoCheck has no tags or subjects with several faces: a face record is enrolled with --name and --surname1 into a face list"
        }
        guard let name = request.name?.trimmingCharacters(in: .whitespaces), !name.isEmpty,
            let surname = request.surname1?.trimmingCharacters(in: .whitespaces), !surname.isEmpty
        else { return "NeoCheck needs the person's name and first surname (--name, --surname1)" }
        if list(for: request, policy: policy) == nil {
            return "no face list to enrol into: the door has none (door.face_list) and the request names none (--list)"
        }
        return nil
    }

    /// The list the record goes into: the same person already in it is a duplicate.
    public func duplicateSearchPolicy(for request: EnrolmentRequest, door policy: DoorPolicy) -> DoorPolicy {
        var target = policy
        target.faceList = list(for: request, policy: policy)
        return target
    }

    public func enrol(_ probe: ProbeFace, as request: EnrolmentRequest, policy: DoorPolicy) async throws -> EnrolmentReceipt {
        guard let list = list(for: request, policy: policy), let name = request.name, let surname1 = request.surname1 else {
            throw NeoCheckError(.invalidConfiguration, problem(with: request, policy: policy) ?? "incomplete enrolment request")
        }
        let identifier: String
        do {
            identifier = try await client.createRecord(
                NeoCheckNewFaceRecord(
                    faceImage: probe.jpeg, name: name, surname1: surname1, surname2: request.surname2, externalIdentifier: request.externalId))
        } catch {
            throw Self.classify(error)
        }
        // A record in no list opens no door and only clutters the register: it goes again.
        let added: Bool
        do {
            added = try await client.addRecord(.identifier(identifier), toList: Self.listReference(list))
        } catch {
            _ = try? await client.deleteRecord(.identifier(identifier))
            throw Self.classify(error)
        }
        guard added else {
            _ = try? await client.deleteRecord(.identifier(identifier))
            throw NeoCheckError(.notFound, "the face list was not found, so the record was not kept")
        }
        return EnrolmentReceipt(backend: backendName, subjectId: identifier, registeredUnder: [list])
    }

    private func list(for request: EnrolmentRequest, policy: DoorPolicy) -> String? {
        let requested = request.faceList?.trimmingCharacters(in: .whitespaces)
        if let requested, !requested.isEmpty { return requested }
        return policy.faceList
    }
}
