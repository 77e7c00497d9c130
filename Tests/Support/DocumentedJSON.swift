import Foundation
import XCTest

/// The field lists of docs/json.md, which every JSON output of locktop must keep to.
public struct DocumentedJSON {
    /// The fields of each event type.
    public let eventFields: [String: Set<String>]
    /// The fields of each document part: `list`, `list.locks[]`, `list.locks[].holder_process`, ...
    public let documentFields: [String: Set<String>]
    /// The example event lines.
    public let examples: [String]

    /// Reads docs/json.md.
    public static func load() throws -> DocumentedJSON {
        let text = try String(contentsOfFile: "\(TestSupport.packageRoot)/docs/json.md", encoding: .utf8)
        var events: [String: Set<String>] = [:]
        var documents: [String: Set<String>] = [:]
        var inDocuments = false
        var inExamples = false
        var inFence = false
        var examples: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("## Documents") { inDocuments = true }
            // The events' examples are the json blocks before the documents; other blocks are prose.
            if line.hasPrefix("```") {
                inFence.toggle()
                inExamples = inFence && line == "```json" && !inDocuments
                continue
            }
            if inFence && !inExamples { continue }
            if inExamples {
                examples.append(line)
                continue
            }
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard line.hasPrefix("| `"), cells.count == 2 else { continue }
            let name = cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            let fields = Set(
                cells[1].split(separator: " ").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "`")) })
            if inDocuments { documents[name] = fields } else { events[name] = fields }
        }
        return DocumentedJSON(eventFields: events, documentFields: documents, examples: examples)
    }

    /// Checks one event line: its type is documented, it has the four fields every event has, and
    /// no field that the document does not list for its type. Returns its type.
    @discardableResult
    public func checkEvent(_ line: String, file: StaticString = #filePath, line number: UInt = #line) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            XCTFail("not a JSON object: \(line)", file: file, line: number)
            return nil
        }
        guard let type = object["type"] as? String, let fields = eventFields[type] else {
            XCTFail("event type not in docs/json.md: \(line)", file: file, line: number)
            return nil
        }
        XCTAssertEqual(object["schema"] as? Int, 2, line, file: file, line: number)
        for required in ["time", "key"] {
            XCTAssertNotNil(object[required], "\(required) in \(line)", file: file, line: number)
        }
        let undocumented = Set(object.keys).subtracting(fields)
        XCTAssertTrue(
            undocumented.isEmpty, "fields \(undocumented.sorted()) of \(type) are not in docs/json.md: \(line)",
            file: file, line: number)
        return type
    }

    /// Checks a document and every object inside it against the fields listed for `name`.
    public func checkDocument(_ value: Any, as name: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let object = value as? [String: Any] else { return }
        guard let fields = documentFields[name] else {
            return XCTFail("\(name) is not in docs/json.md", file: file, line: line)
        }
        let undocumented = Set(object.keys).subtracting(fields)
        XCTAssertTrue(
            undocumented.isEmpty, "fields \(undocumented.sorted()) of \(name) are not in docs/json.md", file: file,
            line: line)
        for (key, member) in object {
            if let items = member as? [Any] {
                for item in items where item is [String: Any] {
                    checkDocument(item, as: "\(name).\(key)[]", file: file, line: line)
                }
            } else if member is [String: Any], documentFields["\(name).\(key)"] != nil {
                checkDocument(member, as: "\(name).\(key)", file: file, line: line)
            }
        }
    }
}
