import HerdAgent

@main
enum Entrypoint {
    static func main() async {
        await HerdAgentCommand.runAsAgent()
    }
}
