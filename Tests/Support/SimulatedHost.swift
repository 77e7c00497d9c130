import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Another "machine" for the cross-host tests: a UTS, pid and mount namespace set with its own
/// host name and `/proc`, so its processes are invisible to every other such host, as on a real
/// second machine, while the files stay shared. Killing its init kills every process in it.
public final class SimulatedHost: @unchecked Sendable {
    public let name: String
    private let unshare: TestSupport.Child
    /// The init's pid, as the tests' namespace sees it.
    public let initProcessID: Int32

    /// Starts the host `name`, whose init (`python`, reaping orphans) sets its host name.
    public init(_ name: String, python: String) throws {
        self.name = name
        let script =
            "import os,socket,sys,time\nsocket.sethostname(sys.argv[1])\nprint('ready',flush=True)\n"
            + "while True:\n  try: os.wait()\n  except ChildProcessError: time.sleep(0.1)\n"
        unshare = try TestSupport.start(
            "/usr/bin/unshare", ["--uts", "--pid", "--mount", "--fork", "--mount-proc", python, "-c", script, name])
        guard unshare.waitForOutput(containing: "ready", timeout: 30),
            let pid = SimulatedHost.onlyChild(of: unshare.process.processIdentifier)
        else { throw CocoaError(.executableLoad, userInfo: [NSDebugDescriptionErrorKey: unshare.standardError]) }
        initProcessID = pid
    }

    /// `arguments` as a command that runs them inside the host (through `nsenter`), for a tmux pane.
    public func command(_ arguments: [String]) -> [String] {
        ["/usr/bin/nsenter", "-t", String(initProcessID), "-u", "-p", "-m", "--"] + arguments
    }

    /// Starts `arguments` inside the host (through `nsenter`).
    public func start(_ arguments: [String], environment: [String: String] = [:], input: Bool = false) throws
        -> TestSupport.Child
    {
        let inside = command(arguments)
        return try TestSupport.start(inside[0], Array(inside.dropFirst()), environment: environment, input: input)
    }

    /// Runs `arguments` inside the host to completion.
    public func run(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 60) throws
        -> TestSupport.Outcome
    {
        try start(arguments, environment: environment).wait(timeout: timeout)
    }

    /// The pid, in the tests' namespace, of the process `nsenter` started for `child`.
    public static func innerProcessID(of child: TestSupport.Child) -> Int32? {
        for _ in 0..<500 {
            if let pid = onlyChild(of: child.process.processIdentifier) { return pid }
            usleep(10_000)
        }
        return nil
    }

    /// The pid `pid` has within its own namespace (`NSpid`'s last field).
    public static func namespacedProcessID(of pid: Int32) -> Int32? {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("NSpid:") }) else { return nil }
        return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).last.flatMap { Int32($0) }
    }

    private static func onlyChild(of pid: Int32) -> Int32? {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return text.split(separator: " ").first.flatMap { Int32($0) }
    }

    /// Kills `child`, started by ``start(_:environment:input:)``: the process inside, then its `nsenter`.
    /// (Killing only `nsenter` would orphan the process inside, still running, to the host's init.)
    public static func stop(_ child: TestSupport.Child) {
        guard child.process.isRunning else { return }
        if let inner = innerProcessID(of: child) { Glibc.kill(inner, SIGKILL) }
        child.signal(SIGKILL)
        _ = child.wait(timeout: 10)
    }

    /// Kills the whole host: its init, and with it every process inside.
    public func kill() {
        Glibc.kill(initProcessID, SIGKILL)
        _ = unshare.wait(timeout: 10)
    }
}
