import Dispatch
import Foundation
import LockReports
import Synchronization

/// `GET /api/v1/locks`: each source's `list --json` document, made by the code `list --json` runs,
/// so it is the same document with the same verdicts. Making one reads the source afresh, as
/// `list` does, so the documents are made one at a time, off the server's tasks, and a request that
/// would queue behind more than ``maximumWaiting`` others is refused rather than queued.
public final class LockDocuments: Sendable {
    /// One source's document maker: its `source` label and what makes its document.
    public struct Source: Sendable {
        public let label: String
        public let make: @Sendable () throws -> [UInt8]

        public init(label: String, make: @Sendable @escaping () throws -> [UInt8]) {
            self.label = label
            self.make = make
        }
    }

    /// The most requests waiting for a document at once.
    public static let maximumWaiting = 4
    private let sources: [Source]
    private let queue = DispatchQueue(label: "locktop.serve.locks")
    private let waiting = Atomic<Int>(0)

    public init(_ sources: [Source]) {
        self.sources = sources
    }

    /// Why no document was made.
    public enum Failure: Error {
        /// Too many requests wait already.
        case busy
        /// A source could not be read.
        case unreadable(String)
    }

    /// The document: the one source's `list --json` document, or with several sources
    /// `{"schema": N, "sources": [...]}` holding each one's in order.
    public func document() async throws(Failure) -> [UInt8] {
        guard waiting.add(1, ordering: .relaxed).newValue <= Self.maximumWaiting else {
            waiting.subtract(1, ordering: .relaxed)
            throw .busy
        }
        let sources = self.sources
        let result: Result<[UInt8], Failure> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Self.make(sources))
            }
        }
        waiting.subtract(1, ordering: .relaxed)
        return try result.get()
    }

    private static func make(_ sources: [Source]) -> Result<[UInt8], Failure> {
        var documents: [[UInt8]] = []
        for source in sources {
            do {
                documents.append(try source.make())
            } catch {
                return .failure(.unreadable("\(source.label): \(error)"))
            }
        }
        guard documents.count != 1 else { return .success(documents[0]) }
        var output = Array(#"{"schema": \#(Reports.schemaVersion), "sources": ["#.utf8)
        for (index, document) in documents.enumerated() {
            if index > 0 { output.append(contentsOf: Array(",\n".utf8)) }
            // Each document ends with its newline.
            output.append(contentsOf: document.last == 0x0A ? document.dropLast() : document[...])
        }
        output.append(contentsOf: Array("]}\n".utf8))
        return .success(output)
    }
}
