import Foundation

/// Reads secrets from systemd credentials or owner-only files, refusing files others can read.
public enum SecretFiles {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Whether a file exists and neither its group nor others may read or write it.
    public static func isPrivate(path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return info.st_mode & 0o077 == 0
    }

    /// The secret's value, without a trailing newline. Errors name the reference, never the value.
    public static func resolve(
        _ reference: SecretReference, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(Failure) -> String {
        switch reference {
        case .inline(let value):
            return value
        case .credential(let name):
            guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else {
                throw Failure(description: "\(reference): $CREDENTIALS_DIRECTORY is not set (LoadCredential= in the unit provides it)")
            }
            // systemd makes the credentials directory private to the service; no mode check needed.
            return try read(directory + "/" + name, reference: reference)
        case .file(let path):
            guard FileManager.default.fileExists(atPath: path) else { throw Failure(description: "\(reference): no such file") }
            guard isPrivate(path: path) else {
                throw Failure(description: "\(reference): readable by group or others; chmod 600 it")
            }
            return try read(path, reference: reference)
        }
    }

    private static func read(_ path: String, reference: SecretReference) throws(Failure) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(description: "\(reference): cannot be read")
        }
        guard var text = String(data: data, encoding: .utf8) else { throw Failure(description: "\(reference): not text") }
        while text.last == "\n" || text.last == "\r" { text.removeLast() }
        guard !text.isEmpty else { throw Failure(description: "\(reference): empty") }
        return text
    }
}

extension FacegateConfiguration {
    /// Problems with what the configuration refers to on this machine: devices, files, secrets.
    public func environmentProblems(environment: [String: String] = ProcessInfo.processInfo.environment) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        let files = FileManager.default
        switch camera.source {
        case .v4l2:
            if !files.fileExists(atPath: camera.device) {
                problems.append(ConfigProblem(path: "camera.device", message: "\(camera.device) does not exist"))
            }
        case .replay:
            if let path = camera.replayPath, !files.fileExists(atPath: path) {
                problems.append(ConfigProblem(path: "camera.replay_path", message: "\(path) does not exist"))
            }
        }
        if let models = modelsDirectory, !files.fileExists(atPath: models + "/" + FaceModelFiles.landmarks) {
            problems.append(ConfigProblem(path: "models", message: "no \(FaceModelFiles.landmarks) in \(models)"))
        }
        for (key, line) in [("door.relay", door.relay), ("door.contact", door.contact), ("door.exit_button", door.exitButton)] {
            guard let line else { continue }
            let chipPath = line.chip.hasPrefix("/") ? line.chip : "/dev/" + line.chip
            if line.chip.hasPrefix("/") || line.chip.hasPrefix("gpiochip"), !files.fileExists(atPath: chipPath) {
                problems.append(ConfigProblem(path: "\(key).chip", message: "\(chipPath) does not exist"))
            }
        }
        var secrets: [(String, SecretReference?)] = []
        switch backend.kind {
        case .nec:
            secrets = [
                ("backend.nec.access_key", backend.nec.accessKey), ("backend.nec.secret_key", backend.nec.secretKey),
                ("backend.nec.api_key", backend.nec.apiKey),
            ]
        case .neocheck:
            secrets = [("backend.neocheck.client_secret", backend.neoCheck.clientSecret), ("backend.neocheck.password", backend.neoCheck.password)]
            if backend.neoCheck.clientId == nil {
                problems.append(ConfigProblem(path: "backend.neocheck.client_id", message: "is needed"))
            }
            if backend.neoCheck.username == nil {
                problems.append(ConfigProblem(path: "backend.neocheck.username", message: "is needed"))
            }
        }
        if offlineCache.enabled { secrets.append(("offline_cache.key", offlineCache.key)) }
        for (key, reference) in secrets {
            guard let reference else {
                problems.append(ConfigProblem(path: key, message: "is needed"))
                continue
            }
            do {
                _ = try SecretFiles.resolve(reference, environment: environment)
            } catch {
                problems.append(ConfigProblem(path: key, message: error.description))
            }
        }
        for (key, path) in [("journal.path", journal.path), ("offline_cache.path", offlineCache.path)] {
            let folder = (path as NSString).deletingLastPathComponent
            if !files.fileExists(atPath: folder) {
                problems.append(ConfigProblem(path: key, message: "folder \(folder) does not exist"))
            }
        }
        return problems
    }
}

enum FaceModelFiles {
    static let landmarks = "shape_predictor_5_face_landmarks.dat"
}
