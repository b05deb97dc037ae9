import CHerdMalloc
import HerdAgent

@main
enum Entrypoint {
    static func main() async {
        // Before any thread starts: without a cap, glibc's per-thread arenas made a 10 000-cycle agent
        // grow ~0.5 MiB per 1 000 cycles while its live heap stayed under 5 MB (BENCHMARKS.md).
        _ = herd_limit_malloc_arenas(2)
        await HerdAgentCommand.runAsAgent()
    }
}
