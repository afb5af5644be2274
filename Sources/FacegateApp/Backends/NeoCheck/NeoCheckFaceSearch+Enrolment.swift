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
        // A record in no list opens no door, and holds a face and a name nobody asked to keep: it goes again.
        let added: Bool
        do {
            added = try await client.addRecord(.identifier(identifier), toList: Self.listReference(list))
        } catch {
            throw await withdrawn(identifier, because: Self.classify(error))
        }
        guard added else {
            throw await withdrawn(identifier, because: NeoCheckError(.notFound, "the face list was not found, so the record was not kept"))
        }
        return EnrolmentReceipt(backend: backendName, subjectId: identifier, registeredUnder: [list])
    }

    /// How long the delete of a record a failed enrolment made may take, on top of the enrolment's own limit.
    static let withdrawalLimit: Duration = .seconds(5)

    /// Deletes the record `identifier` that the enrolment made and could not finish, and says what became of it.
    /// The delete runs in a task of its own, not cancelled with the enrolment's (its time limit may be what ended
    /// it), within its own `withdrawalLimit`; and it is made even when the hourly budget is spent.
    private func withdrawn(_ identifier: String, because failure: any Error) async -> PartlyMadeEnrolment {
        let client = self.client
        let deletion = Task {
            try await withDeadline(ContinuousClock.now.advanced(by: Self.withdrawalLimit)) {
                do {
                    return try await client.deleteRecord(.identifier(identifier), beyondBudget: true)
                } catch let error as NeoCheckError {
                    // Gone already (an administrator was quicker): nothing is left.
                    guard error.code == .notFound else { throw error }
                    return true
                }
            }
        }
        let problem: String
        do {
            if try await deletion.value {
                return PartlyMadeEnrolment(failure: failure, aftermath: "the face record it made was deleted again: nothing is enrolled")
            }
            problem = "the service answered false"
        } catch is DeadlineExceeded {
            problem = "no answer in time"
        } catch {
            problem = "\(error)"
        }
        return PartlyMadeEnrolment(
            failure: failure,
            aftermath: "face record \(identifier) was made and could not be deleted again (\(problem)): it is in no face list, "
                + "so it opens no door, but it holds the face and the name; delete it: facegate neocheck records delete \(identifier)",
            leftInCloud: identifier)
    }

    /// The service's reply to a list identification names the person whatever the door makes of them: a disabled
    /// record (someone's access taken away), a warning (several faces in view) are the same person enrolled,
    /// for the duplicate check, where `search` lets none of them in. A service that itself leaves disabled records
    /// out of list identification (the document does not say; the emulator does by default) names none of them,
    /// and this check cannot see them either: there is no call that lists a face list's records.
    public func enrolledMatches(
        of probe: ProbeFace, for request: EnrolmentRequest, door policy: DoorPolicy, search _: any FaceSearch
    ) async throws -> [MatchCandidate] {
        guard let list = list(for: request, policy: policy) else {
            throw NeoCheckError(.invalidConfiguration, problem(with: request, policy: policy) ?? "no face list to enrol into")
        }
        let answer: NeoCheckIdentification
        do {
            answer = try await client.identify(probe: probe.jpeg, againstList: Self.listReference(list))
        } catch {
            throw Self.classify(error)
        }
        // notExecuted(1) names nobody; the door's threshold, applied by the duplicate check, judges the confidence.
        guard answer.result != .notExecuted, let person = answer.person else { return [] }
        return [MatchCandidate(subjectId: person.identifier, score: answer.confidence, tags: [list])]
    }

    /// A record whose creation got no result is in no face list (the add comes after it), so it opens no
    /// door but holds the face and the name; it cannot be looked up without its external id.
    public func howToCheckAnUnansweredEnrolment(_ request: EnrolmentRequest, policy: DoorPolicy) -> String {
        if let external = request.externalId, !external.trimmingCharacters(in: .whitespaces).isEmpty {
            // The external id is the installer's to type: not repeated into the log line this reason reaches.
            return "a face record made so is in no face list (it opens no door, but holds the face and the name): look for it with: "
                + "facegate neocheck records get --external-id (the one given), and delete it or enrol again"
        }
        return "a face record made so is in no face list (it opens no door, but holds the face and the name), and cannot be found "
            + "without an external id (--external-id); one that did reach the list makes enrolling again a duplicate naming it"
    }

    private func list(for request: EnrolmentRequest, policy: DoorPolicy) -> String? {
        let requested = request.faceList?.trimmingCharacters(in: .whitespaces)
        if let requested, !requested.isEmpty { return requested }
        return policy.faceList
    }
}
