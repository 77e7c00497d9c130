import ArgumentParser
import Foundation
import LockMonitor
import LocktopServe

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the locks' verdicts as Prometheus metrics over HTTP (read-only).",
        discussion:
            "GET /metrics gives the Prometheus text format (the metrics are in docs/metrics.md), "
            + "GET /api/v1/events streams the events as Server-Sent Events (events --json's objects), GET /healthz "
            + "says ok. Nothing served changes anything. It listens on 127.0.0.1:9464 unless --listen says "
            + "otherwise. Runs until interrupted.")

    @OptionGroup var directories: DirectoryOptions
    @OptionGroup var judgement: JudgementOptions

    @Option(help: "The IPv4 address and port to listen on; an address other than 127.x is reachable from other hosts.")
    var listen = "127.0.0.1:9464"

    @Option(
        help: ArgumentHelp(
            "A file holding the bearer token /metrics asks for (Prometheus's authorization.credentials_file).",
            valueName: "file"))
    var bearerTokenFile: String?

    @Flag(help: "Also serve per-lock series labelled with each key (docs/metrics.md).")
    var keyLabels = false

    @Option(
        help: "With --key-labels, the most locks with series of their own; the rest are folded into key=\"__other__\".")
    var maxKeys = 500

    @OptionGroup var watch: WatchOptions

    func validate() throws {
        if maxKeys < 0 { throw ValidationError("--max-keys takes a count, 0 or more") }
        guard listenAddress != nil else {
            throw ValidationError(
                "--listen takes an IPv4 address and a port, such as 127.0.0.1:9464, not \"\(listen)\"")
        }
    }

    /// `--listen` as a host and a port, nil when it is not `HOST:PORT`.
    var listenAddress: (host: String, port: UInt16)? {
        guard let colon = listen.lastIndex(of: ":"), let port = UInt16(listen[listen.index(after: colon)...]),
            !listen[..<colon].isEmpty
        else { return nil }
        return (String(listen[..<colon]), port)
    }

    func run() throws {
        let (host, port) = listenAddress!
        let token = try bearerTokenFile.map { path in
            let token = try CommandLineSecrets.firstLine(ofFile: path, option: "--bearer-token-file")
            guard !token.isEmpty else { throw ValidationError("--bearer-token-file: \(path) holds no token") }
            return token
        }
        let source = try watch.makeDashboardSource(directories, judgement)
        let metrics = LockMetrics(
            source: source.lockSource.location, version: Locktop.version, keyLabels: keyLabels, maximumKeys: maxKeys)
        let events = EventBroadcast()
        let loop = ServeLoop(source: source, metrics: metrics, events: events)
        if !MetricsServer.isLoopback(host) {
            Console.warn("serving on \(host), which other hosts reach; the metrics name your lock keys")
        }
        let server = MetricsServer(metrics: metrics, events: events, host: host, port: port, token: token)
        Task.detached {
            do {
                try await server.run()
            } catch {
                Console.warn("error: cannot serve on \(host):\(port): \(error)")
                Foundation.exit(1)
            }
        }
        Console.warn("serving http://\(host):\(port)/metrics for \(source.lockSource.location); Ctrl-C stops")
        loop.run()
    }
}
