import Dashboard
import DashboardSources
import Foundation
import LockMonitor
import RecordStore

/// What one dashboard refresh costs on a large directory: rebuilding rows, applying them, drawing.
enum DashboardBenchmark {
    static func run(_ arguments: [String]) throws {
        let records = BenchSupport.option("records", in: arguments, default: 100_000)
        let locks = BenchSupport.option("locks", in: arguments, default: 10_000)
        let directory = try MonitorBenchmark.makeDirectory(records: records, locks: locks)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let monitor = try LockMonitor(configuration: .init(recordsDirectory: directory))
        var state = DashboardState(
            data: DashboardRowBuilder.data(from: monitor, now: Date()), now: Date(), width: 120, height: 35)
        var builds: [Double] = []
        var applies: [Double] = []
        for _ in 0..<5 {
            var data: DashboardData?
            builds.append(BenchSupport.time { data = DashboardRowBuilder.data(from: monitor, now: Date()) } * 1000)
            applies.append(BenchSupport.time { _ = DashboardReducer.reduce(&state, .data(data.take()!)) } * 1000)
        }
        let name = try anyLockName(monitor)
        var patches: [Double] = []
        for index in 0..<20 {
            try LockFiles.replace(
                path: "\(directory)/\(name)",
                bytes: LockFileContent(holder: "bench-\(index)", expiration: nil).encoded())
            _ = monitor.refreshLock(named: name)
            patches.append(
                BenchSupport.time {
                    let patch = DashboardRowBuilder.patch(
                        for: monitor.takeChanges(), from: monitor, shown: state.data, now: Date(), detailID: nil)
                    _ = DashboardReducer.reduce(&state, .patch(patch))
                } * 1000)
        }
        let ticks = (0..<20).map { _ in
            BenchSupport.time {
                _ = monitor.tick()
                let patch = DashboardRowBuilder.patch(
                    for: monitor.takeChanges(), from: monitor, shown: state.data, now: Date(), detailID: nil)
                _ = DashboardReducer.reduce(&state, .patch(patch))
            } * 1000
        }
        let renders = (0..<20).map { _ in BenchSupport.time { _ = DashboardRenderer.render(state) } * 1000 }
        print("dashboard work over \(records) records + \(locks) locks (ms, median)")
        print(
            String(
                format: "  full build %.1f + apply %.1f (start, rescans)", BenchSupport.median(builds),
                BenchSupport.median(applies)))
        print(
            String(
                format: "  one lock changed → patch + apply %.2f   (%.0fx cheaper than a full build + apply)",
                BenchSupport.median(patches),
                (BenchSupport.median(builds) + BenchSupport.median(applies)) / BenchSupport.median(patches)))
        print(
            String(
                format: "  an idle tick (judge what is due, patch) %.3f   render 120x35 %.2f",
                BenchSupport.median(ticks), BenchSupport.median(renders)))
    }

    static func anyLockName(_ monitor: LockMonitor) throws -> String {
        guard let name = monitor.snapshot.locks.keys.min() else { throw RecordStoreError.noLock(key: "any") }
        return name
    }
}
