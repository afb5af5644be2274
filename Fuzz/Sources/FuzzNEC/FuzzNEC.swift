import FacegateIdentify
import NIOHTTP1

// NEC ID's replies on arbitrary bytes, read by the client's own `interpret` (success bodies of every
// call the daemon and the CLI make, error bodies of every status) and `clockSkewEvidence` (the
// 403 "Signature expired" body and the `Date` header).
//
// Input: byte 0 picks the call, byte 1 the HTTP status (its top bit: the next line is a `Date`
// header), the rest is the body. A thrown `NECIDError` is a refusal (fine). Findings: a trap, a memory
// error, or a key of this client quoted in an error (the client takes them out of service messages).

private let secretKey = "fuzzSecretAccessKey0123456789"
private let apiKey = "fuzzApiKey0123456789"

private let client = NECIDClient(
    configuration: NECIDConfiguration(
        endpoint: "https://api.id.example", portalEndpoint: "https://portal.id.example",
        credentials: AWSCredentials(accessKeyID: "AKIDFUZZ", secretAccessKey: secretKey), apiKey: apiKey),
    httpClient: NECIDClient.makeHTTPClient())

private let statuses: [UInt] = [200, 201, 204, 400, 401, 403, 404, 409, 413, 429, 500, 502, 503, 504, 302, 99]

/// A reader of replies to one call, built once; the calls' arguments are valid, so building cannot throw.
private func reading<Value>(
    _ make: () throws(NECIDError) -> NECIDOperation<Value>
) -> @Sendable (CloudHTTPResponse) throws(NECIDError) -> Void {
    let operation = try! make()
    return { response throws(NECIDError) in _ = try client.interpret(response, for: operation) }
}

private let calls: [@Sendable (CloudHTTPResponse) throws(NECIDError) -> Void] = [
    reading { () throws(NECIDError) in try NECIDCall.search(probe: [1], threshold: 7000, limit: 5, tags: ["door"]) },
    reading { () throws(NECIDError) in try NECIDCall.verify(face: [1], probe: [2]) },
    reading { () throws(NECIDError) in try NECIDCall.verify(subjectID: "s", probe: [2]) },
    reading { () throws(NECIDError) in try NECIDCall.extract(image: [1], limit: 3) },
    reading { () throws(NECIDError) in try NECIDCall.registerSubject(face: [1], tags: ["door"]) },
    reading { () throws(NECIDError) in try NECIDCall.updateSubject(id: "s", face: [1]) },
    reading { () throws(NECIDError) in try NECIDCall.unregisterSubject(id: "s") },
    reading { () throws(NECIDError) in try NECIDCall.listSubjects(start: 0, length: 10, direction: .asc) },
    reading { () throws(NECIDError) in try NECIDCall.listEvents(subjectID: "s") },
    reading { () throws(NECIDError) in NECIDCall.listTags() },
    reading { () throws(NECIDError) in NECIDCall.health() },
    reading { () throws(NECIDError) in try NECIDCall.bulkRegister([NECBulkRegistration(filename: "a.jpg")]) },
    reading { () throws(NECIDError) in try NECIDCall.jobProgress(batchID: "b", pagingID: "p") },
    reading { () throws(NECIDError) in NECIDCall.listGalleries() },
    reading { () throws(NECIDError) in try NECIDCall.gallery(id: "g") },
    reading { () throws(NECIDError) in NECIDCall.listApplications() },
    reading { () throws(NECIDError) in try NECIDCall.application(id: "a") },
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNEC(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard size >= 2, let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let call = calls[Int(bytes[0]) % calls.count]
    let status = HTTPResponseStatus(statusCode: Int(statuses[Int(bytes[1] & 0x7F) % statuses.count]))
    var body = bytes[2...]
    var headers = HTTPHeaders([("content-type", "application/json")])
    if bytes[1] & 0x80 != 0 {
        let line = body.prefix { $0 != UInt8(ascii: "\n") }
        headers.add(name: "date", value: String(decoding: line, as: UTF8.self))
        body = body.dropFirst(line.count + 1)
    }
    let response = CloudHTTPResponse(status: status, headers: headers, body: Array(body))
    _ = client.clockSkewEvidence(response)
    do {
        try call(response)
    } catch {
        let text = error.description
        if text.contains(secretKey) || text.contains(apiKey) {
            fatalError("an NEC ID error quotes a key of this client")
        }
    }
    return 0
}
