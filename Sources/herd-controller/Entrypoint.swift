import HerdController

@main
enum Entrypoint {
    static func main() async {
        await HerdControllerCommand.main()
    }
}
