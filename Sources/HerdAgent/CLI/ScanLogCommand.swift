import ArgumentParser
import HerdProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// `herd-agent scan-log`: classify any log offline and print the events found. For admins with a pasted
/// log, and the classifier's end-to-end test.
struct ScanLogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan-log",
        abstract: "Classify a log offline and print the error events found.",
        discussion: """
            Reads FILE (or standard input for '-') line by line with bounded memory; lines longer than 1 MiB
            are cut. An exception and its backtrace, or the Rails lines of one request, count as one event.
            An error line no signature names (ERROR, FATAL, nginx [error], journald priority <= 3, ...) is
            an unclassified_error finding with a redacted sample: an error is never called healthy.
            Categories: Agent/log-categories.md.
            Exit status 0 when the log was read, whatever it contained; 1 when it could not be read or a
            signature file is invalid; 64 for bad arguments.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case auto
        case journalJSON = "journal-json"
        case production, sidekiq
        case nginxError = "nginx-error"
        case kernel

        var journal: ApplicationLogsCheck.Scan.JournalLines {
            switch self {
            case .auto: .recognised
            case .journalJSON: .only
            default: .never
            }
        }
    }

    @Option(
        help: ArgumentHelp(
            "auto: journald JSON lines (journalctl -o json) are recognised line by line, anything else is text; "
                + "journal-json: every line must be journald JSON; production, sidekiq, nginx-error, kernel: text.",
            valueName: "format"))
    var format: Format = .auto

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(
        name: .customLong("signatures"),
        help: ArgumentHelp("A signature table to append to the built-in one (repeatable).", valueName: "file"))
    var signatureFiles: [String] = []

    @Argument(help: "The log to read; '-' for standard input.")
    var file = "-"

    func run() throws {
        let table: SignatureTable
        do {
            table = try SignatureTable.builtIn(appending: signatureFiles)
        } catch {
            throw ScanLogError(description: "\(error)")
        }
        let fd: Int32 = file == "-" ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ScanLogError(description: "cannot open \(file): \(String(cString: strerror(errno)))")
        }
        defer { if fd != STDIN_FILENO { close(fd) } }

        // What the logs check counts, so that a pasted log gets the findings a host would report.
        var scan = ApplicationLogsCheck.Scan(matcher: SignatureMatcher(table: table))
        var reader = LineReader(fd: fd)
        var unparsed = 0
        // Read once: an @Option's getter goes through the property wrapper on every access.
        let journal = format.journal
        do {
            try reader.forEachLine { line, number in
                if !scan.feed(anyLine: line, number: number, journal: journal) { unparsed += 1 }
            }
        } catch {
            throw ScanLogError(description: "cannot read \(file): \(error)")
        }
        let tallies = scan.tallies()
        let classifier = scan.classifier
        if json {
            try printJSON(
                tallies, lines: classifier.lines, events: classifier.events, reader: reader, unparsed: unparsed)
        } else {
            printTable(tallies, lines: classifier.lines, events: classifier.events, reader: reader, unparsed: unparsed)
        }
    }

    private func printTable(
        _ tallies: [LogClassifier.Tally], lines: Int, events: Int, reader: LineReader, unparsed: Int
    ) {
        var header = "\(lines) lines, \(events) events, \(tallies.count) signatures matched"
        if reader.truncatedLines > 0 { header += ", \(reader.truncatedLines) lines cut at 1 MiB" }
        if unparsed > 0 { header += ", \(unparsed) lines not journald JSON (skipped)" }
        print(header)
        guard !tallies.isEmpty else { return }
        let rows = tallies.map { t in
            [
                String(t.count), t.category.rawValue, t.signature, "\(t.firstLine)-\(t.lastLine)",
                String(t.sample.prefix(100)),
            ]
        }
        let titles = ["COUNT", "CATEGORY", "SIGNATURE", "LINES", "SAMPLE"]
        let widths = titles.indices.map { i in ([titles] + rows).map { $0[i].count }.max() ?? 0 }
        for row in [titles] + rows {
            print(zip(row, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }.joined(separator: "  "))
        }
    }

    /// `--json`: what the scan found, and how much of the file it could read.
    struct Answer: Encodable {
        enum CodingKeys: String, CodingKey {
            case events, findings, lines, truncatedLines = "truncated_lines", unparsedLines = "unparsed_lines"
        }

        var events: Int
        var findings: [LogClassifier.Tally]
        var lines: Int
        var truncatedLines: Int
        var unparsedLines: Int
    }

    private func printJSON(
        _ tallies: [LogClassifier.Tally], lines: Int, events: Int, reader: LineReader, unparsed: Int
    ) throws {
        let answer = Answer(
            events: events, findings: tallies, lines: lines, truncatedLines: reader.truncatedLines,
            unparsedLines: unparsed)
        print(String(decoding: try JSONCodable.encode(answer, pretty: true), as: UTF8.self))
    }
}

/// A log or signature file that cannot be used; ArgumentParser prints it and exits with status 1.
struct ScanLogError: Error, CustomStringConvertible {
    var description: String
}
