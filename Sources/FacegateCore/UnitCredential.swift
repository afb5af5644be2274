/// What the shipped unit hands the service for a credential whose file is missing: `SetCredential=NAME:`
/// with this value beside each `LoadCredential=` (systemd's fallback). The unit then starts without the
/// other backend's files, and a credential the configuration uses, found to be the placeholder, is
/// refused by its key (exit 78) in these words rather than read as a secret.
public enum UnitCredential {
    public static let missingFilePlaceholder = "facegate-credential-file-missing"

    /// Why a credential that is the placeholder is refused; names no value and no path of the configuration.
    public static let missingFile =
        "could not be loaded from /etc/facegate/credentials when the service started (no such file, or unreadable: the unit's placeholder stood in)"

    /// Whether a credential's contents are the unit's placeholder (a trailing newline aside).
    public static func isPlaceholder<Bytes: Collection>(_ contents: Bytes) -> Bool where Bytes.Element == UInt8 {
        var bytes = Array(contents)
        if bytes.last == 0x0a { bytes.removeLast() }
        return bytes == Array(missingFilePlaceholder.utf8)
    }
}
