#if canImport(Glibc)
    import Glibc
#endif

/// Runs blocking host work (reading files, waiting for a child process) on a thread of its own, so a
/// wedged `systemctl` or a hung NFS mount never holds one of Swift's few cooperative threads.
enum HostThread {
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, any Error>, Never>) in
            let work = Work {
                continuation.resume(returning: Result { try body() })
            }
            var thread = pthread_t()
            let box = Unmanaged.passRetained(work).toOpaque()
            let created = pthread_create(
                &thread, nil,
                { raw in
                    let work = Unmanaged<Work>.fromOpaque(raw!).takeRetainedValue()
                    work.body()
                    return nil
                }, box)
            if created != 0 {
                Unmanaged<Work>.fromOpaque(box).release()
                continuation.resume(returning: .failure(HostError.errno(created, "pthread_create")))
            } else {
                pthread_detach(thread)
            }
        }
        return try result.get()
    }

    private final class Work: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
