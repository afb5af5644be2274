import FacegateQuality

/// The real local face core, its models loaded once for every test (loading takes a while).
public enum TestFaceAnalyzers {
    private static let videoAnalyzer: Result<DlibFaceAnalyzer, any Error> = Result { try DlibFaceAnalyzer() }
    private static let stillAnalyzer: Result<DlibFaceAnalyzer, any Error> = Result {
        DlibFaceAnalyzer(engine: try FaceEngine(models: try FaceModels.locate(nil)), configuration: .stillImage)
    }

    /// Configured as for camera frames (the daemon's own).
    public static func video() throws -> DlibFaceAnalyzer { try videoAnalyzer.get() }

    /// Configured for still photographs (enrolment, the emulators' galleries).
    public static func stills() throws -> DlibFaceAnalyzer { try stillAnalyzer.get() }
}
