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
        var notes = written.compactMap { key, path -> ConfigProblem? in
            let components = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
            if components.count > folder.count, components.starts(with: folder) { return nil }
            return ConfigProblem(
                path: key,
                message: "is outside \(Self.serviceStateFolder), the only folder the facegate unit lets the service write: "
                    + "under it nothing is written there unless a drop-in adds the folder to ReadWritePaths=")
        }
        // What the unit hides from the service (ProtectHome=yes, PrivateTmp=yes), which a root check reads: a
        // note, not a problem, as a drop-in may show it (review: a models folder under /home passed the check,
        // and the service exited 78).
        var read: [(String, String?)] = [("models", modelsDirectory), ("liveness.models", liveness.modelsDirectory)]
        if camera.source == .replay { read.append(("camera.replay_path", camera.replayPath)) }
        for (key, path) in read {
            guard let path, Self.isHiddenFromTheService(path) else { continue }
            notes.append(
                ConfigProblem(
                    path: key,
                    message: "is in a folder the facegate unit hides from its service (/home, /root, /run/user, /tmp, /var/tmp: "
                        + "ProtectHome=, PrivateTmp=): under it the service finds nothing there unless a drop-in shows it"))
        }
        return notes
    }
}

extension FacegateConfiguration {
    /// What every note of ``serviceReadNotes(configurationPath:)`` says, for postinst to find them: under
    /// the unit the daemon cannot read the file or the secret at all and exits 78, so the package neither
    /// enables nor restarts a door on them.
    public static let serviceCannotRead = "the facegate unit's service cannot read"

    /// A note for each thing the door reads that the shipped unit's service cannot: it runs as a dynamic
    /// user with no capabilities (`DynamicUser=yes`, `PrivateUsers=yes`), so a file only root may read is
    /// closed to it, and a `file:` secret it could read (a file of its own, or open to others) is refused
    /// by ``PrivateFile`` as not private (a root `config check` sees neither). That is every `file:`
    /// secret, and a configuration file others cannot read (which an inline secret requires). Notes,
    /// not problems: outside the unit (the demo, `facegate run` as oneself) they are read as always.
    /// Keys only, never a path or a value.
    public func serviceReadNotes(configurationPath: String?) -> [ConfigProblem] {
        var notes: [ConfigProblem] = []
        if let configurationPath, !Self.othersMayRead(path: configurationPath) {
            notes.append(
                ConfigProblem(
                    path: "",
                    message: "the file is not readable by others (its mode, or a folder above it others may not enter), and "
                        + "\(Self.serviceCannotRead) it (a dynamic user, neither its owner nor in its group): under the unit make it 0644, "
                        + "in folders others may enter, and write any secret in it credential:NAME"))
        }

        var secrets: [(String, SecretReference?)] = backend.chosen.secrets.map { ($0.key, $0.reference) }
        if offlineCache.enabled { secrets.append(("offline_cache.key", offlineCache.key)) }
        for (key, reference) in secrets {
            guard case .file = reference else { continue }
            notes.append(
                ConfigProblem(
                    path: key,
                    message: "is a file: secret, which \(Self.serviceCannotRead) (a dynamic user: a file only root reads is closed to it, "
                        + "and one it could read is not private): under the unit write credential:NAME, the file in /etc/facegate/credentials/"))
        }
        return notes
    }

    /// Whether others may read the file (the dynamic user reads the configuration as one): its mode lets
    /// them, and every folder above it lets them through (review: a 0644 file in a folder tightened to 0750
    /// passed, and the unit's service exited 78 on it).
    static func othersMayRead(path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & 0o004 != 0 else { return false }
        // The folders of where the file is, not of a link to it.
        var folder = URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.deletingLastPathComponent()
        while true {
            guard stat(folder.path, &info) == 0, info.st_mode & 0o001 != 0 else { return false }
            if folder.path == "/" { return true }
            folder = folder.deletingLastPathComponent()
        }
    }

    /// Whether `path` lies where the unit's sandbox shows the service nothing of the host's.
    static func isHiddenFromTheService(_ path: String) -> Bool {
        // A relative path is the service's working directory's: `/`.
        let components = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: "/")).standardizedFileURL.pathComponents
        for hidden in [["/", "home"], ["/", "root"], ["/", "run", "user"], ["/", "tmp"], ["/", "var", "tmp"]]
        where components.starts(with: hidden) {
            return true
        }
        return false
    }
}
