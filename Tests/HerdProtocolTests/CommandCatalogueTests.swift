import HerdProtocol
import Testing

/// The remediation catalogue: operators' names and parameters, bounds, the dry runs, and the unit
/// instance names the tootctl helper reads back.
@Suite struct CommandCatalogueTests {
    @Test func operatorNamesAndParametersBuildTypedActions() throws {
        #expect(
            try CommandAction(name: "restart-service", parameters: ["service": "sidekiq"]) == .restartService(.sidekiq))
        #expect(
            try CommandAction(name: "media-remove", parameters: ["days": "7", "dry_run": "true"])
                == .mediaRemove(.init(days: 7, dryRun: true)))
        #expect(
            try CommandAction(name: "preview-cards-remove", parameters: ["days": "30"])
                == .previewCardsRemove(.init(days: 30)))
        let refused: [(String, [String: String])] = [
            ("clear-cache", [:]), ("restart-service", ["service": "postgresql"]), ("restart-service", [:]),
            ("media-remove", ["days": "0"]), ("media-remove", ["days": "366"]), ("media-remove", ["days": "7x"]),
            ("media-remove", ["days": "7", "dry_run": "yes"]), ("media-remove", ["days": "7", "concurrency": "99"]),
            ("preview-cards-remove", ["days": "13"]), ("restart-service", ["service": "web; reboot"]),
        ]
        for (name, parameters) in refused {
            #expect(throws: WireError.self, "\(name) \(parameters)") {
                try CommandAction(name: name, parameters: parameters)
            }
        }
    }

    @Test func riskClassesAndDryRuns() {
        let remove = CommandAction.mediaRemove(.init(days: 7))
        #expect(remove.risk == .destructive)
        #expect(remove.dryRunVariant == .mediaRemove(.init(days: 7, dryRun: true)))
        #expect(remove.dryRunVariant?.risk == .preview)
        #expect(remove.dryRunVariant?.dryRunVariant == nil)
        #expect(CommandAction.restartService(.web).risk == .routine)
        #expect(CommandAction.restartService(.web).dryRunVariant == nil)
        #expect(remove.tootctlArguments == ["media", "remove", "--days", "7"])
        #expect(
            CommandAction.mediaRemove(.init(days: 30, dryRun: true, pruneProfiles: true, removeHeaders: true))
                .tootctlArguments == [
                    "media", "remove", "--days", "30", "--prune-profiles", "--remove-headers", "--dry-run",
                ])
        #expect(CommandAction.restartService(.nginx).hostCommand == "systemctl reload nginx.service")
    }

    @Test func unitInstanceNamesRoundTripExactlyAndNothingElseParses() {
        var all: [CommandAction] = []
        for days in [1, 7, 365] {
            for flags in 0..<8 {
                all.append(
                    .mediaRemove(
                        .init(
                            days: days, dryRun: flags & 1 != 0, pruneProfiles: flags & 2 != 0,
                            removeHeaders: flags & 4 != 0)))
            }
        }
        for days in [14, 90, 365] {
            all += [.previewCardsRemove(.init(days: days)), .previewCardsRemove(.init(days: days, dryRun: true))]
        }
        for action in all {
            #expect(CommandAction(tootctlUnitInstance: action.unitInstance) == action, "\(action.unitInstance)")
            #expect(action.unitInstance.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })
        }
        for hostile in [
            "media-remove-0", "media-remove-366", "media-remove-7-dry-run-dry-run", "media-remove-07",
            "media-remove-7;reboot", "media-remove--7", "media-remove-7 --days 1", "preview-cards-remove-13",
            "media-remove-7-dry-run-prune-profiles", "restart-sidekiq", "", "media-remove-", "media-remove-1000",
        ] {
            #expect(CommandAction(tootctlUnitInstance: hostile) == nil, "\(hostile)")
        }
    }
}
