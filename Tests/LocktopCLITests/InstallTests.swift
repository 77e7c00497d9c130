import Foundation
import LocktopTestSupport
import XCTest

/// `scripts/install.sh` puts a locktop on PATH that runs without the Swift toolchain.
final class InstallTests: XCTestCase {
    func testTheInstalledBinaryNeedsNoSwiftLibrariesAndBringsItsManPageAndCompletions() throws {
        let prefix = TestSupport.temporaryDirectory(for: self)
        let install = try TestSupport.run(
            "/bin/bash", ["\(TestSupport.packageRoot)/scripts/install.sh", prefix], timeout: 1200)
        XCTAssertEqual(install.status, 0, install.standardError.suffix(3000).description)
        let binary = "\(prefix)/bin/locktop"
        let libraries = try TestSupport.run("/usr/bin/ldd", [binary])
        XCTAssertEqual(libraries.status, 0, libraries.standardError)
        XCTAssertFalse(
            libraries.standardOutput.contains("libswift"),
            "statically linked Swift runtime: \(libraries.standardOutput)")
        XCTAssertFalse(libraries.standardOutput.contains("not found"), libraries.standardOutput)
        let expected = try TestSupport.run(TestSupport.executable("locktop"), ["--version"]).standardOutput
        let version = try TestSupport.run(
            binary, ["--version"], environment: ["PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": ""])
        XCTAssertEqual(version.status, 0, version.standardError)
        XCTAssertEqual(version.standardOutput, expected)
        XCTAssertEqual(
            try TestSupport.run(binary, ["version"], environment: ["PATH": "/usr/bin:/bin"]).standardOutput, expected)
        let manual = try String(contentsOfFile: "\(prefix)/share/man/man1/locktop.1", encoding: .utf8)
        XCTAssertTrue(manual.contains(".Dt LOCKTOP 1") && manual.contains("audit"), String(manual.prefix(300)))
        for completion in [
            "bash-completion/completions/locktop", "zsh/site-functions/_locktop",
            "fish/vendor_completions.d/locktop.fish",
        ] {
            let script = try String(contentsOfFile: "\(prefix)/share/\(completion)", encoding: .utf8)
            XCTAssertTrue(script.contains("locktop") && script.contains("release"), completion)
        }
    }
}
