import ArgumentParser
import Foundation
import HerdProtocol

struct InstanceAttributes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attributes",
        abstract: "Set or remove operator attributes of an instance; prints them all.",
        discussion: """
            herdctl instance attributes social.example datacenter=fra1 plan=large
            herdctl instance attributes social.example --remove plan
            Fleet incidents group by them (attribute.datacenter = fra1), and silences can scope them:
            herdctl silence add --group attribute.datacenter=fra1 --for 2h --reason "network maintenance"
            """)

    @Argument(help: "The instance (its domain).", completion: .custom { _, _, _ in Completion.instances() })
    var instance: String
    @Argument(help: "NAME=VALUE pairs to set.") var pairs: [String] = []
    @Option(help: "An attribute to remove (repeatable).") var remove: [String] = []
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard Rule.isInstanceName(instance) else { throw ValidationError("\(instance) is not an instance name") }
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, Rule.isIdentifier(String(parts[0])), !parts[1].isEmpty else {
                throw ValidationError("\(pair): expected NAME=VALUE, NAME an identifier")
            }
        }
        guard remove.allSatisfy(Rule.isIdentifier) else { throw ValidationError("--remove takes attribute names") }
    }

    func run() async throws {
        var set: [String: String] = [:]
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            set[parts[0]] = parts[1]
        }
        let request = OperatorAPI.AttributesRequest(set: set, remove: remove)
        let answer = try await withClient(connection) {
            try await $0.call(
                .POST, "/v1/instances/\(instance)/attributes", body: try JSONCodable.encode(request),
                as: OperatorAPI.Attributes.self)
        }
        if connection.json { return try printJSON(answer) }
        if answer.attributes.isEmpty { return Output.say("\(answer.instance): no attributes") }
        for (key, value) in answer.attributes.sorted(by: { $0.key < $1.key }) { Output.say("\(key)=\(value)") }
    }
}
