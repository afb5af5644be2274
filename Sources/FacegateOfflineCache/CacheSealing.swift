import Crypto
import FacegateCore
import Foundation

/// AES-GCM sealing of the cache's secret columns, bound to the row's clear columns.
///
/// The clear columns (subject id, tags, times) are the associated data: editing any of them in the
/// file (to give a face another subject, more tags, or a longer life) makes the row fail to open.
enum CacheSealing {
    static func seal(_ plaintext: [UInt8], context: [UInt8], key: OfflineCacheKey) throws -> Data {
        let box = try AES.GCM.seal(plaintext, using: key.key, authenticating: context)
        // The combined form (nonce, ciphertext, tag) always exists for the default 12-byte nonce.
        return box.combined!
    }

    /// The plaintext, or nil when the row was not sealed with this key and context.
    static func open(_ sealed: Data, context: [UInt8], key: OfflineCacheKey) -> [UInt8]? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
            let plaintext = try? AES.GCM.open(box, using: key.key, authenticating: context)
        else { return nil }
        return [UInt8](plaintext)
    }

    /// Associated data: a purpose label, then each field length-prefixed so no two rows share one.
    static func context(_ purpose: String, _ fields: [String]) -> [UInt8] {
        var bytes = Array("facegate.offline-cache.\(purpose).v1".utf8)
        for field in fields {
            let utf8 = Array(field.utf8)
            withUnsafeBytes(of: UInt32(utf8.count).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: utf8)
        }
        return bytes
    }

    /// `scopeJSON` is nil only for rows written before the scope was kept, `score` for rows written before
    /// the score was (their context is unchanged). The score is bound as its exact bit pattern: a row edited to
    /// a higher score, or to another unit, fails to open.
    static func entryContext(
        id: String, subjectId: String, tagsJSON: String, rememberedAt: Int64, expiresAt: Int64, scopeJSON: String?,
        score: GrantScore? = nil
    ) -> [UInt8] {
        context(
            "entry",
            [id, subjectId, tagsJSON, String(rememberedAt), String(expiresAt)] + (scopeJSON.map { ["scope", $0] } ?? [])
                + (score.map { ["score", String($0.value.bitPattern, radix: 16), "unit", $0.unit.rawValue] } ?? []))
    }

    /// `grantedSubject` is nil for re-checks of denials and rows written before it was kept.
    static func recheckContext(
        id: String, decisionId: String, door: String, createdAt: Int64, expiresAt: Int64, grantedSubject: String?
    ) -> [UInt8] {
        context("recheck", [id, decisionId, door, String(createdAt), String(expiresAt)] + (grantedSubject.map { ["granted", $0] } ?? []))
    }

    static let keyCheckContext = context("key-check", [])
    static let keyCheckPlaintext = Array("facegate offline cache key check".utf8)

    /// 128 little-endian float32s.
    static func encode(_ descriptor: FaceDescriptor) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(FaceDescriptor.dimension * 4)
        for value in descriptor.values {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    static func decodeDescriptor(_ bytes: [UInt8]) -> FaceDescriptor? {
        guard bytes.count == FaceDescriptor.dimension * 4 else { return nil }
        var values: [Float] = []
        values.reserveCapacity(FaceDescriptor.dimension)
        for i in stride(from: 0, to: bytes.count, by: 4) {
            let bits = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
            values.append(Float(bitPattern: bits))
        }
        return try? FaceDescriptor(values)
    }

    /// Tags as stored in the clear column: a sorted JSON array, so the same set always reads the same.
    static func tagsJSON(_ tags: Set<String>) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(tags.sorted())) ?? Data("[]".utf8), as: UTF8.self)
    }

    static func tags(fromJSON text: String) -> Set<String>? {
        (try? JSONDecoder().decode([String].self, from: Data(text.utf8))).map(Set.init)
    }
}

extension Date {
    /// Whole milliseconds since 1970, the cache's time unit (exact, so it can be authenticated).
    var cacheMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

    init(cacheMilliseconds: Int64) {
        self.init(timeIntervalSince1970: TimeInterval(cacheMilliseconds) / 1000)
    }
}
