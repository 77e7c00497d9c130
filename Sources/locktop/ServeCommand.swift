import ArgumentParser
import CLocktopSystem
import Dashboard
import Foundation
import LockMonitor
import LockReports
import LocktopServe
import RecordStore
import RedisMonitor
import Synchronization

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the locks' verdicts as Prometheus metrics over HTTP (read-only).",
        discussion:
            "GET /metrics gives the Prometheus text format, or OpenMetrics when the scraper asks for it (the metrics "
            + "are in docs/metrics.md); GET /api/v1/locks gives list --json's document; GET /api/v1/events streams "
            + "the events as Server-Sent Events (events --json's objects); GET /healthz says ok. Nothing served "
            + "changes anything. Each --dir, --locks-dir and --redis is a source of its own (the `source` label), "
            + "but one --dir with one --locks-dir is one source, as everywhere else; with none, the directory "
            + "list would find. It listens on 127.0.0.1:9464 unless --listen says otherwise. Runs until interrupted.")

    @Option(
        name: .customLong("dir"),
        help: ArgumentHelp("A records directory to serve; repeat for several.", valueName: "path"))
    var directories: [String] = []

    @Option(
        name: .customLong("locks-dir"),
        help: ArgumentHelp(
            "A directory of .lock files to serve (with one --dir: that directory's locks); repeat for several.",
            valueName: "path"))
    var locksDirectories: [String] = []

    @Option(
        name: .customLong("redis"),
        help: ArgumentHelp("A Redis database of prefect-redis locks to serve; repeat for several.", valueName: "url"))
    var redisURLs: [String] = []

    @Option(help: ArgumentHelp("With --redis, the key prefix of the locks.", valueName: "prefix"))
    var prefix = "lock:"

    @Option(
        name: .customLong("tls-ca"),
        help: ArgumentHelp(
            "With a rediss:// URL, the CA certificates (PEM) its certificate must chain to.", valueName: "file"))
    var redisCA: String?

    @Option(
        help: ArgumentHelp("With --redis, read the password from this file (its first line).", valueName: "file"))
    var redisPasswordFile: String?

    @OptionGroup var judgement: JudgementOptions

    @Option(help: "The IPv4 address and port to listen on; an address other than 127.x is reachable from other hosts.")
    var listen = "127.0.0.1:9464"

    @Option(
        help: ArgumentHelp(
            "A file holding the bearer token every endpoint but /healthz asks for (Prometheus's authorization.credentials_file).",
            valueName: "file"))
    var bearerTokenFile: String?

    @Option(help: ArgumentHelp("Serve HTTPS with this certificate chain (PEM), with --tls-key.", valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("The private key (PEM) of --tls-cert.", valueName: "file"))
    var tlsKey: String?

    @Flag(help: "Also serve per-lock series labelled with each key (docs/metrics.md).")
    var keyLabels = false

    @Option(
        help:
            "With --key-labels, the most locks of each source with series of their own; the rest are folded into key=\"__other__\"."
    )
    var maxKeys = 500

    @OptionGroup var watch: WatchOptions
    @OptionGroup var recording: RecordOptions

    func validate() throws {
        if maxKeys < 0 { throw ValidationError("--max-keys takes a count, 0 or more") }
        guard listenAddress != nil else {
            throw ValidationError(
                "--listen takes an IPv4 address and a port, such as 127.0.0.1:9464, not \"\(listen)\"")
        }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        for source in try sourceOptions() { try source.validate() }
    }

    /// `--listen` as a host and a port, nil when it is not `HOST:PORT`.
    var listenAddress: (host: String, port: UInt16)? {
        guard let colon = listen.lastIndex(of: ":"), let port = UInt16(listen[listen.index(after: colon)...]),
            !listen[..<colon].isEmpty
        else { return nil }
        return (String(listen[..<colon]), port)
    }

    /// Each source's options, as another subcommand would parse them: one --dir with one --locks-dir
    /// is one source; else each directory and each database is its own; with none, the default's.
    func sourceOptions() throws -> [DirectoryOptions] {
        var shared = ["--prefix", prefix]
        if let redisCA { shared += ["--tls-ca", redisCA] }
        if let redisPasswordFile { shared += ["--redis-password-file", redisPasswordFile] }
        var arguments: [[String]]
        if directories.count == 1, locksDirectories.count == 1 {
            arguments = [["--dir", directories[0], "--locks-dir", locksDirectories[0]]]
        } else {
            arguments = (directories + locksDirectories).map { ["--dir", $0] }
        }
        arguments += redisURLs.map { ["--redis", $0] + shared }
        if arguments.isEmpty { arguments = [shared] }
        return try arguments.map { try DirectoryOptions.parse($0) }
    }

    func run() throws {
        // The rows' arrays grow by doubling as locks come; freed, the old ones go back to the system.
        locktop_map_large_allocations_apart()
        let (host, port) = listenAddress!
        let token = try bearerTokenFile.map { path in
            let token = try CommandLineSecrets.firstLine(ofFile: path, option: "--bearer-token-file")
            guard !token.isEmpty else { throw ValidationError("--bearer-token-file: \(path) holds no token") }
            return token
        }
        let tls = try tlsCert.map { try TLSFront(certificateChain: $0, privateKey: tlsKey!) }
        let exposition = MetricsExposition(version: Locktop.version)
        let events = EventBroadcast()
        var documents: [LockDocuments.Source] = []
        var labels = Set<String>()
        for options in try sourceOptions() {
            let (label, document) = try startWatch(options, exposition: exposition, events: events)
            guard labels.insert(label).inserted else {
                throw ValidationError("\(label) is given twice: each source is served once")
            }
            documents.append(LockDocuments.Source(label: label, make: document))
        }
        if !MetricsServer.isLoopback(host) {
            Console.warn("serving on \(host), which other hosts reach; the metrics name your lock keys")
        }
        let locks = LockDocuments(documents)
        let scheme = tls == nil ? "http" : "https"
        let server: MetricsServer
        if let tls {
            let socket = try tls.privateSocketPath()
            server = MetricsServer(
                exposition: exposition, locks: locks, events: events, address: .unix(path: socket), token: token)
            try Console.failing { try tls.listen(host: host, port: port, forwardingTo: socket) }
        } else {
            server = MetricsServer(
                exposition: exposition, locks: locks, events: events, address: .inet(host: host, port: port),
                token: token)
        }
        Task.detached {
            do {
                try await server.run()
            } catch {
                Console.warn("error: cannot serve on \(host):\(port): \(error)")
                Foundation.exit(1)
            }
        }
        let names = labels.sorted().joined(separator: ", ")
        Console.warn("serving \(scheme)://\(host):\(port)/metrics for \(names); Ctrl-C stops")
        while true { sleep(3600) }
    }

    /// Starts the watch of one source on a thread of its own, once it has read the source; returns
    /// its `source` label and what makes its `list --json` document.
    private func startWatch(_ options: DirectoryOptions, exposition: MetricsExposition, events: EventBroadcast) throws
        -> (label: String, document: @Sendable () throws -> [UInt8])
    {
        let (watch, judgement, keyLabels, maxKeys) = (self.watch, self.judgement, self.keyLabels, self.maxKeys)
        let recording = self.recording
        let started = Mutex<Result<String, any Error>?>(nil)
        let ready = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let loop: ServeLoop
            do {
                let source = try watch.makeDashboardSource(options, judgement, recordRows: false)
                let metrics = LockMetrics(
                    source: source.lockSource.location, registry: exposition.registry, keyLabels: keyLabels,
                    maximumKeys: maxKeys)
                loop = ServeLoop(
                    source: source, metrics: metrics, events: events,
                    recorder: try recording.makeRecorder(source: metrics.source))
                started.withLock { $0 = .success(metrics.source) }
                ready.signal()
            } catch {
                started.withLock { $0 = .failure(error) }
                ready.signal()
                return
            }
            loop.run()
        }
        ready.wait()
        let label = try started.withLock { $0! }.get()
        return (label, Self.documentMaker(options, judgement.classifier))
    }

    /// What makes `list --json`'s document of a source, as `list --json` does.
    private static func documentMaker(_ options: DirectoryOptions, _ classifier: LockClassifier)
        -> @Sendable () throws -> [UInt8]
    {
        if let redis = options.redisURL {
            return {
                let reader = try options.connectedReader(url: redis)
                return try RedisReports.listDocument(reader, classifier: classifier)
            }
        }
        return {
            let (records, locks) = try options.openHandles()
            var output: [UInt8] = []
            try ListDocument(
                records: records, locks: locks, classifier: classifier, environment: .live,
                auditLog: AuditLog.defaultLocation()
            ).write(includeSummaries: false) { output += $0 }
            return output
        }
    }
}
