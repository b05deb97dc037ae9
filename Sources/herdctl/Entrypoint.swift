import HerdCLI

@main
enum Entrypoint {
    static func main() async {
        await Herdctl.main()
    }
}
