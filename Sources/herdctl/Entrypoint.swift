import Foundation
import HerdCLI

@main
enum Entrypoint {
    static func main() async {
        exit(await Herdctl.mainWithExitCodes())
    }
}
