import ArgumentParser
import Foundation
import LockMonitor
import LocktopServe

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the locks' verdicts as Prometheus metrics over HTTP (read-only).",
        discussion:
            "GET /metrics gives the Prometheus text format (the metrics are in docs/metrics.md), GET /healthz "
            + "says ok. Nothing served changes anything. It listens on 127.0.0.1:9464 unless --listen says "
            + "otherwise. Runs until interrupted.")

    @OptionGroup var directories: DirectoryOptions
    @OptionGroup var judgement: JudgementOptions

    @Option(help: "The IPv4 address and port to listen on; an address other than 127.x is reachable from other hosts.")
    var listen = "127.0.0.1:9464"

    @OptionGroup var watch: WatchOptions

    func validate() throws {
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
        let source = try watch.makeDashboardSource(directories, judgement)
        let metrics = LockMetrics(source: source.lockSource.location, version: Locktop.version)
        let loop = ServeLoop(source: source, metrics: metrics)
        if !MetricsServer.isLoopback(host) {
            Console.warn("serving on \(host), which other hosts reach; the metrics name your lock keys")
        }
        let server = MetricsServer(metrics: metrics, host: host, port: port)
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
