import Foundation
import NIOHTTP1

/// HTTP and SigV4 timestamps.
enum HTTPDate {
    /// The time a reply states it was sent: its `Date`, plus its `Age` when a cache on the way kept it
    /// that long (RFC 9111: a cache passes the origin's `Date` on unchanged). Nil without a readable `Date`.
    static func statedTime(of headers: HTTPHeaders) -> Date? {
        guard let date = headers.first(name: "date").flatMap(parse) else { return nil }
        let age = headers.first(name: "age").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }.map { max(0, $0) } ?? 0
        return date.addingTimeInterval(TimeInterval(min(age, 365 * 86_400)))
    }

    /// RFC 7231 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func parse(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }

    /// `20180816T040829Z`.
    static func parseAMZ(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.date(from: text)
    }
}
