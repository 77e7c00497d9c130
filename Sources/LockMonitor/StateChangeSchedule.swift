import Foundation

/// When each lock's state may next change with time alone (an expiration passing, the stale age,
/// the end of the grace period), so that a tick judges only the locks that are due, not all of them.
///
/// A binary min-heap of dates with lazy removal: a name's entry counts only while it matches the
/// name's current date. The heap is rebuilt when stale entries outnumber live ones.
public struct StateChangeSchedule: Sendable {
    private struct Entry: Sendable {
        var date: Date
        var name: String
    }

    private var heap: [Entry] = []
    private var dates: [String: Date] = [:]

    public init() {}

    /// How many names are scheduled.
    public var count: Int { dates.count }

    /// The date `name` is due, if scheduled.
    public func date(of name: String) -> Date? { dates[name] }

    /// Schedules `name` at `date`, replacing its earlier date; nil unschedules it.
    public mutating func schedule(_ name: String, at date: Date?) {
        guard dates[name] != date else { return }
        dates[name] = date
        guard let date else { return compactIfSparse() }
        push(Entry(date: date, name: name))
        compactIfSparse()
    }

    /// Removes and returns the names due at `now`, earliest first.
    public mutating func takeDue(at now: Date) -> [String] {
        var due: [String] = []
        while let first = heap.first, first.date <= now {
            popFirst()
            if dates[first.name] == first.date {
                dates[first.name] = nil
                due.append(first.name)
            }
        }
        return due
    }

    private mutating func compactIfSparse() {
        guard heap.count > 2 * dates.count + 64 else { return }
        heap = dates.map { Entry(date: $0.value, name: $0.key) }
        for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(from: index) }
    }

    private mutating func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].date < heap[parent].date else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popFirst() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        siftDown(from: 0)
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].date < heap[smallest].date { smallest = left }
            if right < heap.count, heap[right].date < heap[smallest].date { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
