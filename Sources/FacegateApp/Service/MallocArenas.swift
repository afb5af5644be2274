#if canImport(CMalloc)
    import CMalloc
#endif

/// How many malloc arenas the daemon's threads share.
///
/// glibc gives a thread that finds the arenas busy a new one, up to eight per core. The daemon's
/// blocking work (the quality core, the camera, the kiosk's encoder) runs on Dispatch's threads,
/// which come and go, so the frame-sized buffers they free end up spread over many arenas, each
/// holding on to its own free pages. With the kiosk's preview attached, resident memory grew by
/// 28 MB over a 15-person run with glibc's default and by 13 MB with two arenas, at the same CPU a frame (BENCHMARKS.md).
public enum MallocArenas {
    /// Two as measured (`facegate-bench door --kiosk`): the growth halved, the CPU a frame unchanged.
    public static let daemonLimit: Int32 = 2

    /// Limits the arenas unless `MALLOC_ARENA_MAX` says otherwise; call it before the daemon's first
    /// threads start (arenas already taken are kept).
    public static func limitForDaemon(environment: [String: String]) {
        #if canImport(CMalloc)
            guard environment["MALLOC_ARENA_MAX"] == nil else { return }
            _ = mallopt(M_ARENA_MAX, daemonLimit)
        #endif
    }
}
