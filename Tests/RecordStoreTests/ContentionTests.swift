import Foundation
import LocktopTestSupport
import XCTest

/// Several OS processes take one key many times; a critical section detects any overlap.
final class ContentionTests: XCTestCase {
    struct Summary: Decodable {
        var iterations: Int
        var overlaps: Int
        var errors: [String]?
        var prefectErrors: [String]?

        enum CodingKeys: String, CodingKey {
            case iterations, overlaps, errors
            case prefectErrors = "prefect_errors"
        }
    }

    func summary(of outcome: TestSupport.Outcome) throws -> Summary {
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        let line = try XCTUnwrap(outcome.standardOutput.split(separator: "\n").last, outcome.standardError)
        return try JSONDecoder().decode(Summary.self, from: Data(line.utf8))
    }

    func testFourSwiftProcessesNeverOverlap() throws {
        let directory = TestSupport.temporaryDirectory(for: self)
        let work = TestSupport.temporaryDirectory(for: self)
        let iterations = 300
        let children = try (0..<4).map { _ in
            try TestSupport.start(
                TestSupport.executable("locktop-contender"), [directory, "shared.key", work, String(iterations), "30"])
        }
        for child in children {
            let result = try summary(of: child.wait(timeout: 300))
            XCTAssertEqual(result.overlaps, 0)
            XCTAssertEqual(result.errors ?? [], [])
        }
        XCTAssertEqual(
            try String(contentsOfFile: work + "/counter", encoding: .utf8), String(4 * iterations), "no lost updates")
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: directory), [], "no lock or temporary file left")
    }

    func testPrefectAndSwiftProcessesNeverOverlap() throws {
        for version in ["3.9.1", "3.0.0"] {
            let python = try TestSupport.prefectPython(version)
            let directory = TestSupport.temporaryDirectory(for: self)
            let work = TestSupport.temporaryDirectory(for: self)
            let iterations = 100
            let swift = try (0..<2).map { _ in
                try TestSupport.start(
                    TestSupport.executable("locktop-contender"), [directory, "mixed.key", work, String(iterations)])
            }
            let prefect = try (0..<2).map { _ in
                try TestSupport.start(
                    python,
                    [
                        TestSupport.prefectScript("prefect_lock.py"), "contend", directory, "mixed.key", work,
                        String(iterations),
                    ],
                    environment: ["PREFECT_HOME": work + "/home"])
            }
            for child in swift + prefect {
                let result = try summary(of: child.wait(timeout: 300))
                XCTAssertEqual(result.overlaps, 0, "Prefect \(version)")
                XCTAssertEqual(result.errors ?? [], [], "Prefect \(version): the Swift side never fails")
            }
            XCTAssertEqual(
                try String(contentsOfFile: work + "/counter", encoding: .utf8), String(4 * iterations),
                "Prefect \(version)")
        }
    }
}
