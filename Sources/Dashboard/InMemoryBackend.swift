import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A backend without a terminal: tests queue keys, the session draws into ``screen``. Its
/// descriptors are pipes, so the session's `poll(2)` wakes exactly as it does for a terminal.
public final class InMemoryBackend: DashboardBackend {
    public private(set) var size: (width: Int, height: Int)
    /// The last screen drawn.
    public private(set) var screen: Screen?
    /// What was last copied to the clipboard.
    public private(set) var clipboard: String?
    private var pending: [TerminalInput] = []
    private var pendingSignal: Int32 = 0
    private var inputPipe: [Int32] = [-1, -1]
    private var signalPipe: [Int32] = [-1, -1]

    /// A backend of `width` by `height`.
    public init(width: Int, height: Int) {
        size = (width, height)
        Self.open(&inputPipe)
        Self.open(&signalPipe)
    }

    private static func open(_ ends: inout [Int32]) {
        guard pipe(&ends) == 0 else { return }
        for descriptor in ends {
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        }
    }

    deinit {
        for descriptor in inputPipe + signalPipe where descriptor >= 0 { close(descriptor) }
    }

    public var inputDescriptor: Int32 { inputPipe[0] }
    public var signalDescriptor: Int32 { signalPipe[0] }

    /// The last screen as text, one line a row.
    public var text: String { screen?.text ?? "" }

    /// Queues keys, as if typed.
    public func press(_ keys: Key...) {
        pending += keys.map(TerminalInput.key)
        wake(inputPipe[1])
    }

    /// Queues a resize.
    public func resize(width: Int, height: Int) {
        size = (width, height)
        pending.append(.resize(width: width, height: height))
        wake(inputPipe[1])
    }

    /// Delivers a termination signal.
    public func signal(_ number: Int32) {
        pendingSignal = number
        wake(signalPipe[1])
    }

    public func draw(_ screen: Screen) {
        self.screen = screen
    }

    public func copyToClipboard(_ text: String) {
        clipboard = text
    }

    public func readInput() -> [TerminalInput] {
        drain(inputPipe[0])
        defer { pending = [] }
        return pending
    }

    public func readSignal() -> Int32 {
        drain(signalPipe[0])
        return pendingSignal
    }

    private func wake(_ descriptor: Int32) {
        var byte: UInt8 = 1
        _ = write(descriptor, &byte, 1)
    }

    private func drain(_ descriptor: Int32) {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(descriptor, &buffer, buffer.count) > 0 {}
    }
}
