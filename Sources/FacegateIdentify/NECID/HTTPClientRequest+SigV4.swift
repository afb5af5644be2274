import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

extension HTTPClientRequest {
    /// Signs the request with AWS Signature Version 4 as of `date`, adding
    /// `x-amz-date` and `Authorization` (and the session token when there is one).
    ///
    /// Every header already on the request is signed, so set `host`, `content-type`
    /// and `x-api-key` first. `body` must be the exact bytes that are sent.
    public mutating func signSigV4(with signer: SigV4Signer, body: [UInt8], at date: Date) throws(NECIDError) {
        guard let url = URLComponents(string: self.url), let host = url.host, !host.isEmpty else {
            throw NECIDError(.validation, "cannot sign a request to an invalid URL")
        }
        if !headers.contains(name: "host") {
            var value = host
            if let port = url.port, !(url.scheme == "https" && port == 443), !(url.scheme == "http" && port == 80) {
                value += ":\(port)"
            }
            headers.replaceOrAdd(name: "host", value: value)
        }
        let request = SigV4Signer.Request(
            method: method.rawValue, path: url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath,
            query: url.percentEncodedQuery ?? "", headers: headers.map { ($0.name, $0.value) }, body: body)
        let signature = signer.sign(request, at: date)
        headers.remove(name: "x-amz-date")
        for (name, value) in signature.headersToAdd {
            headers.replaceOrAdd(name: name, value: value)
        }
    }
}
