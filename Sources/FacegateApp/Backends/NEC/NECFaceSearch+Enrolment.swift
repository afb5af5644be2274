import FacegateCore
import FacegateIdentify
import Foundation

/// Enrolment through NEC ID: a new subject (`POST /v1.1/subjects`), or another event of an existing
/// one (`POST /v1.1/subjects/{id}/events`), registered against tags.
extension NECFaceSearch: FaceEnrolling {
    public func problem(with request: EnrolmentRequest, policy: DoorPolicy) -> String? {
        if request.name != nil || request.surname1 != nil || request.surname2 != nil || request.externalId != nil || request.faceList != nil {
            return "NEC ID keeps no names, external ids or face lists: enrol with --tag (and --subject to add a face to a subject)"
        }
        if let subject = request.subject, subject.trimmingCharacters(in: .whitespaces).isEmpty { return "the subject id is empty" }
        if tags(for: request, policy: policy).isEmpty {
            return "no tag to register against: the door has none (door.tags) and the request names none (--tag)"
        }
        return nil
    }

    /// Every subject, whatever their tags: the same person under another tag is still a duplicate.
    public func duplicateSearchPolicy(for request: EnrolmentRequest, door policy: DoorPolicy) -> DoorPolicy {
        var everyone = policy
        everyone.searchTags = []
        return everyone
    }

    public func enrol(_ probe: ProbeFace, as request: EnrolmentRequest, policy: DoorPolicy) async throws -> EnrolmentReceipt {
        let tags = tags(for: request, policy: policy)
        do {
            if let subject = request.subject {
                let registration = try await client.registerEvent(subjectID: subject, face: probe.jpeg, tags: tags)
                // The Swagger's reply to an event's registration is the Event {id, score}: its id is the event's,
                // not the subject's (the prose's reply names both). The subject is the one asked for.
                let event = registration.eventId ?? (SubjectIdentity.key(registration.id) == SubjectIdentity.key(subject) ? nil : registration.id)
                return EnrolmentReceipt(backend: backendName, subjectId: subject, eventId: event, registeredUnder: tags)
            }
            let registration = try await client.registerSubject(face: probe.jpeg, tags: tags)
            return EnrolmentReceipt(backend: backendName, subjectId: registration.id, eventId: registration.eventId, registeredUnder: tags)
        } catch {
            throw Self.classify(error)
        }
    }

    /// A registration is a new subject (or event) at the top of the gallery's list by last update.
    public func howToCheckAnUnansweredEnrolment(_ request: EnrolmentRequest, policy: DoorPolicy) -> String {
        if request.subject != nil {
            return "list the subject's events with: facegate nec events list SUBJECT (a new event is this face), and keep or unregister it"
        }
        return "list the newest subjects with: facegate nec subjects list --dir desc --length 5 (a subject made just now is this face), "
            + "and keep or unregister it; enrolling again is refused as a duplicate naming it"
    }

    /// The request's tags, else the door's: a person enrolled at this door is found by its search.
    private func tags(for request: EnrolmentRequest, policy: DoorPolicy) -> [String] {
        request.tags.isEmpty ? policy.searchTags : request.tags
    }
}
