import FacegateCore

/// Why an NEC ID call failed. Messages never carry keys, signatures or images.
public struct NECIDError: Error, CloudCallFailure, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// 1001: the request is invalid, e.g. a missing parameter.
        case invalidRequest
        /// 1002: the thing already exists; the message names it.
        case duplicate
        /// 1003: the service timed out.
        case serviceTimeout
        /// 2001: no face was found in the image.
        case noFace
        /// 2002: the face's `faceQualityScore` is below the application's minimum.
        case poorQuality
        /// 2003: several faces where only one is permitted.
        case multipleFaces
        /// 403 from the signature check: wrong keys, wrong region or service, or a bad clock.
        case signatureRejected
        /// 403 "Forbidden": the `x-api-key` is missing or unknown.
        case apiKeyRejected
        /// 404 for a named subject, event, gallery, application or batch.
        case notFound
        /// A 4xx/5xx the service described with an error code this client does not know.
        case serviceError
        /// The request was refused here, before sending (out-of-range threshold, empty tag...).
        case validation
        /// The reply was not what the API documents (garbage JSON, wrong types, odd status).
        case malformedResponse
        /// No connection, or it broke before a reply.
        case unreachable
        /// No complete reply within the request timeout.
        case timeout
        /// The reply was larger than the client's cap.
        case responseTooLarge
    }

    public let code: Code
    public let message: String
    /// The HTTP status of the reply, when there was one.
    public let httpStatus: Int?
    /// NEC ID's numeric `errorCode`, when the reply had one.
    public let serviceErrorCode: Int?
    /// The body of a 2xx reply that could not be read, else empty: the call was carried out, and a reply
    /// to a registration may still name what it made (the installer's command shows it). Never part of
    /// `description`: it is the service's text, for a caller that renders it with care.
    public let unreadReply: [UInt8]
    /// An earlier attempt of this (idempotent, retried) call got no answer and may have been carried out:
    /// a delete's `notFound` then may be that attempt's doing.
    public var earlierAttemptMayHaveDoneIt = false

    public init(_ code: Code, _ message: String, httpStatus: Int? = nil, serviceErrorCode: Int? = nil, unreadReply: [UInt8] = []) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.serviceErrorCode = serviceErrorCode
        self.unreadReply = unreadReply
    }

    /// Whether the call may have been carried out although no usable answer came: a 2xx that could not
    /// be read, a 5xx or the service's own timeout (it may fail between its write and its reply), no reply
    /// in time, or a connection that failed (this client cannot tell whether the request had gone).
    public var mayHaveBeenCarriedOut: Bool {
        switch code {
        // A reply too large to read: it came, so the request was taken, whatever it said.
        case .timeout, .unreachable, .serviceTimeout, .responseTooLarge: return true
        default: break
        }
        guard let httpStatus else { return false }
        return (200..<300).contains(httpStatus) || (500..<600).contains(httpStatus)
    }

    public var description: String {
        var text = "NEC ID \(code.rawValue)"
        if let httpStatus { text += " (HTTP \(httpStatus)" + (serviceErrorCode.map { ", error \($0)" } ?? "") + ")" }
        return text + ": " + message
    }

    public static func == (lhs: NECIDError, rhs: NECIDError) -> Bool { lhs.code == rhs.code }

    /// The code NEC ID documents for a numeric `errorCode`.
    public static func code(forServiceErrorCode number: Int) -> Code? {
        switch number {
        case 1001: .invalidRequest
        case 1002: .duplicate
        case 1003: .serviceTimeout
        case 2001: .noFace
        case 2002: .poorQuality
        case 2003: .multipleFaces
        default: nil
        }
    }
}
