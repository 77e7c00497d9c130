import Foundation

/// The benchmark executable. Each benchmark runs its baselines in the same invocation and
/// prints figures with ratios against them.
@main
struct Bench {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let benchmarks: [String: ([String]) throws -> Void] = [
            "store": StoreBenchmark.run,
            "list": MonitorBenchmark.list,
            "events": MonitorBenchmark.events,
            "update": MonitorBenchmark.update,
            "poll": MonitorBenchmark.idlePoll,
            "dashboard": DashboardBenchmark.run,
            "dashboard-live": DashboardLiveBenchmark.run,
            "renew": LeaseBenchmark.renew,
            "lost": LeaseBenchmark.lost,
            "identity": IdentityBenchmark.run,
            "handoff": HandoffBenchmark.run,
            "handoff-waiter": HandoffBenchmark.waiter,
            "redis": RedisBenchmark.run,
            "serve": ServeBenchmark.run,
            "record": RecordBenchmark.run,
        ]
        guard let name = arguments.first, let benchmark = benchmarks[name] else {
            print("usage: locktop-bench <\(benchmarks.keys.sorted().joined(separator: "|"))> [options]")
            print("  store [--keys N] [--cycles N]   acquire+release cycles vs a raw-syscall floor and Prefect 3.9.1")
            print(
                "  list [--records N] [--locks N]  locktop list --json vs Python scandir+stat+json.load and find -printf"
            )
            print(
                "  events [--events N]             latency from a lock file appearing to `locktop events --json` printing it"
            )
            print("  update [--records N]            one lock change applied incrementally vs a full rescan, and RSS")
            print("  poll [--records N]              one idle poll (nothing changed) vs a full rescan")
            print("  dashboard [--records N]         the cost of one dashboard refresh: rebuild, filter+sort, render")
            print("  dashboard-live [--records N] [--locks N] [--poll N|--fuse] [--baseline PATH]")
            print(
                "                                  the real dashboard in tmux: first screen, idle CPU, RSS, change-to-screen latency"
            )
            print("  renew [--cycles N]              renewing a held lock by atomic exchange vs a plain rename-over")
            print(
                "  lost [--rounds N]               an operator's break → `locktop lock` says the lock was lost, vs `events --json`"
            )
            print(
                "  identity [--records N] [--baseline PATH]  CPU of `locktop events` with and without fanotify, idle and under 4 Prefect waiters"
            )
            print(
                "  handoff [--rounds N]            holder releases → a waiter in another process returns, vs Prefect 3.9.1's waiter"
            )
            print("  redis [--locks N] [--others N]  Redis: snapshot vs redis-py, SET → events --redis line, idle CPU")
            print(
                "  serve [--locks N] [--records N] a /metrics scrape vs find's rescan floor; idle CPU and RSS vs events"
            )
            print(
                "  record [--seconds N] [--rate N] events with and without --record: idle CPU, CPU at N events/s, bytes/event"
            )
            exit(2)
        }
        try benchmark(Array(arguments.dropFirst()))
    }
}
