import HerdLab

@main
enum Entrypoint {
    static func main() async {
        await HerdLabCommand.main()
    }
}
