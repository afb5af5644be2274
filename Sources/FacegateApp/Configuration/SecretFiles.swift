import FacegateCore
import FacegateDoor
import FacegateLiveness
import FacegateOfflineCache
import FacegateQuality
import Foundation

/// Reads secrets from systemd credentials or owner-only files, refusing files others can read.
/// Every read goes through `PrivateFile` (one open with `O_NOFOLLOW | O_NONBLOCK`, checks on the
/// descriptor): a symlink, a FIFO or a file open to group or others is refused.
public enum SecretFiles {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The credentials the shipped unit (systemd/facegate.service) loads, one `LoadCredential=` each:
    /// the service is given no other, so a `credential:` name outside these is refused by `config check`.
    /// `InstallFilesTests` reads the unit and checks it loads exactly these.
    public static let unitCredentialNames = [
        "nec-access-key", "nec-secret-key", "nec-api-key", "neocheck-client-secret", "neocheck-password",
        OfflineCacheKey.credentialName,
    ]

    /// A `credential:` reference the unit does not load, as a problem for `key`; names are the unit's,
    /// not values from the file, so they may be listed.
    static func unloadedCredential(_ reference: SecretReference?, key: String) -> ConfigProblem? {
        guard case .credential(let name) = reference, !unitCredentialNames.contains(name) else { return nil }
        return ConfigProblem(
            path: key,
            message: "names a credential the unit does not load, so the service would never receive it (its LoadCredential= names: \(unitCredentialNames.joined(separator: ", ")))")
    }

    /// Whether a file exists and neither its group nor others may read or write it.
    public static func isPrivate(path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return info.st_mode & 0o077 == 0
    }

    /// The secret's value, without a trailing newline. Errors say what is wrong with the file or the
    /// credential, never its path or name (the caller names the key) and never the value.
    public static func resolve(
        _ reference: SecretReference, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(Failure) -> String {
        switch reference {
        case .inline(let value):
            return value
        case .credential(let name):
            guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else {
                throw Failure(description: "the credential cannot be read: $CREDENTIALS_DIRECTORY is not set (LoadCredential= in the unit provides it)")
            }
            guard !name.isEmpty, !name.contains("/") else {
                throw Failure(description: "a credential name is a plain file name")
            }
            // systemd makes the credentials directory private to the service; its files' modes are systemd's.
            let value: String
            do {
                value = try PrivateFile.readSecret(directory + "/" + name, ownerOnly: false)
            } catch {
                throw Failure(description: "the systemd credential (LoadCredential= in the unit) \(error.detail)")
            }
            if UnitCredential.isPlaceholder(value.utf8) {
                throw Failure(description: "the systemd credential \(UnitCredential.missingFile)")
            }
            return value
        case .file(let path):
            do {
                return try PrivateFile.readSecret(path, ownerOnly: true)
            } catch {
                throw Failure(description: error.withoutPath)
            }
        }
    }
}

extension FacegateConfiguration {
    /// Problems with what the configuration refers to on this machine: devices, files, secrets.
    /// `gpioLines` says what a line's address names on this machine (the kernel's answer; a test's own).
    public func environmentProblems(
        environment: [String: String] = ProcessInfo.processInfo.environment, gpioLines: (GPIOLineAddress) -> GPIOLineLookup = GPIOLineLookup.of
    ) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        let files = FileManager.default
        switch camera.source {
        case .v4l2:
            if !files.fileExists(atPath: camera.device) {
                problems.append(ConfigProblem(path: "camera.device", message: "names no device that exists"))
            }
        case .replay:
            if let path = camera.replayPath, !files.fileExists(atPath: path) {
                problems.append(ConfigProblem(path: "camera.replay_path", message: "names nothing that exists"))
            }
        }
        if let models = modelsDirectory, !files.fileExists(atPath: models + "/" + FaceModelFiles.landmarks) {
            problems.append(ConfigProblem(path: "models", message: FaceModelFiles.missing(named: true)))
        } else if let models = try? FaceModels.locate(modelsDirectory, environment: environment) {
            // The shipped files, as the daemon checks them before it loads them.
            do {
                try models.checkIdentity()
            } catch {
                problems.append(ConfigProblem(path: "models", message: error.message))
            }
        } else {
            // Not set, and no default folder holds them: the daemon would refuse to start.
            problems.append(ConfigProblem(path: "models", message: FaceModelFiles.missing(named: false)))
        }
        if liveness.enabled {
            do {
                // The shipped files, each under its own name, as the daemon checks them before it loads
                // them: `config check` passing files the start then refuses told the installer nothing.
                let models = try PADModels.locate(liveness.modelsDirectory, environment: environment)
                do {
                    try models.checkIdentity()
                } catch {
                    problems.append(ConfigProblem(path: "liveness.models", message: error.message))
                }
            } catch {
                problems.append(ConfigProblem(path: "liveness.models", message: PADModels.missing))
            }
        }
        // Each line as the kernel finds it, as the daemon will request it: a line name the chip does not
        // have, or two roles on one line spelt two ways (a name and an offset, a chip by label and by
        // number), stop the start (exit 78), and the check said ok before (review).
        var claimed: [GPIOLineIdentity: String] = [:]
        for (key, line) in [("door.relay", door.relay), ("door.contact", door.contact), ("door.exit_button", door.exitButton)] {
            guard let line else { continue }
            switch gpioLines(line.address) {
            case .noChip: problems.append(ConfigProblem(path: "\(key).chip", message: "names no GPIO chip that exists"))
            case .noLine: problems.append(ConfigProblem(path: "\(key).line", message: "names no line on that GPIO chip"))
            case .chipNotOpened: break  // the service opens it with its own rights; nothing to say from here
            case .found(let identity):
                if let other = claimed[identity] {
                    problems.append(ConfigProblem(path: "\(key).line", message: "is the same GPIO line as \(other)"))
                } else {
                    claimed[identity] = key
                }
            }
        }
        let chosen = backend.chosen
        problems += chosen.missingSettings()
        problems += type(of: chosen).doorSearchProblems(of: door)
        for (key, reference) in chosen.secrets {
            guard let reference else {
                problems.append(ConfigProblem(path: key, message: "is needed"))
                continue
            }
            if let unloaded = SecretFiles.unloadedCredential(reference, key: key) {
                problems.append(unloaded)
                continue
            }
            do {
                _ = try SecretFiles.resolve(reference, environment: environment)
            } catch {
                problems.append(ConfigProblem(path: key, message: error.description))
            }
        }
        if offlineCache.enabled {
            if let unloaded = SecretFiles.unloadedCredential(offlineCache.key, key: "offline_cache.key") {
                problems.append(unloaded)
            } else {
                // The daemon's own loader, so the check refuses exactly the keys the daemon would (exit 78).
                do {
                    _ = try DoorParts.offlineCacheKey(offlineCache.key, environment: environment)
                } catch {
                    problems.append(ConfigProblem(path: error.key, message: error.message))
                }
            }
        }
        for (key, path) in [("journal.path", journal.path), ("offline_cache.path", offlineCache.path)] {
            let folder = (path as NSString).deletingLastPathComponent
            if !files.fileExists(atPath: folder) {
                problems.append(ConfigProblem(path: key, message: "is in a folder that does not exist"))
            }
        }
        return problems
    }
}

enum FaceModelFiles {
    static let landmarks = "shape_predictor_5_face_landmarks.dat"
    /// The folder named by `models` without them (its path is the file's, not the message's), or,
    /// with `models` unset, none of the default folders with them.
    static func missing(named: Bool) -> String {
        named
            ? "names a folder without \(landmarks) (scripts/setup downloads the models)"
            : "not set, and no default models folder holds \(landmarks) (scripts/setup downloads the models)"
    }
}

extension PADModels {
    /// The folder named by `liveness.models`, or every default one, without both models.
    static let missing = "no folder with both presentation-attack models (\(wideFileName), \(widestFileName))"
}
