import Foundation

extension FacegateConfiguration {
    /// The one folder the shipped unit lets the service write (`StateDirectory=facegate`): under
    /// `ProtectSystem=strict` everything else is read-only to it.
    public static let serviceStateFolder = "/var/lib/facegate"

    /// A note for each file the door writes that lies outside ``serviceStateFolder``: `config check` runs
    /// as root, outside the unit's sandbox, where any folder that exists can be written; under the unit
    /// the journal there is never written (every decision lost at stop), the offline cache is off, the
    /// call budget forgotten at each restart. A note, not a problem: a drop-in may add the folder to
    /// `ReadWritePaths=`, and the daemon also runs outside the unit (the demo, a bench).
    public func serviceSandboxNotes() -> [ConfigProblem] {
        var written = [("journal.path", journal.path)]
        if offlineCache.enabled { written.append(("offline_cache.path", offlineCache.path)) }
        written += backend.chosen.writtenFiles
        let folder = URL(fileURLWithPath: Self.serviceStateFolder).standardizedFileURL.pathComponents
        return written.compactMap { key, path in
            let components = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
            if components.count > folder.count, components.starts(with: folder) { return nil }
            return ConfigProblem(
                path: key,
                message: "is outside \(Self.serviceStateFolder), the only folder the facegate unit lets the service write: "
                    + "under it nothing is written there unless a drop-in adds the folder to ReadWritePaths=")
        }
    }
}
