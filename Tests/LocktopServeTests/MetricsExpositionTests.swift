import Dashboard
import LocktopServe
import Prometheus
import XCTest

/// The exposition's two formats and how a scraper picks one.
final class MetricsExpositionTests: XCTestCase {
    func testPrometheusGetsOpenMetricsAndOtherScrapersTheTextFormat() {
        // What Prometheus 2.x sends.
        let prometheus =
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
            + "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        XCTAssertEqual(MetricsExposition.Format.negotiated(accept: prometheus), .openMetrics)
        XCTAssertEqual(MetricsExposition.Format.negotiated(accept: "Application/OpenMetrics-Text"), .openMetrics)
        XCTAssertEqual(MetricsExposition.Format.negotiated(accept: nil), .prometheusText)
        XCTAssertEqual(MetricsExposition.Format.negotiated(accept: "*/*"), .prometheusText)
        XCTAssertEqual(MetricsExposition.Format.negotiated(accept: "text/plain;version=0.0.4"), .prometheusText)
        XCTAssertEqual(
            MetricsExposition.Format.negotiated(accept: "application/openmetrics-text; q=0, text/plain"),
            .prometheusText, "q=0 refuses a type")
    }

    func testOpenMetricsNamesACounterFamilyWithoutTotalAndEnds() {
        let exposition = MetricsExposition(version: "1.2.3")
        let metrics = LockMetrics(source: "/srv/lo\"cks\n", registry: exposition.registry)
        metrics.update(
            from: DashboardData(
                recordsDirectory: "/srv", locksDirectory: "/srv", watch: "inotify", rows: [], recordCount: 0,
                lockCount: 0))
        let text = String(decoding: exposition.bytes(.prometheusText), as: UTF8.self)
        let open = String(decoding: exposition.bytes(.openMetrics), as: UTF8.self)
        XCTAssertTrue(text.contains("# TYPE locktop_acquisitions_total counter\n"), text)
        XCTAssertFalse(text.contains("# EOF"))
        XCTAssertTrue(open.contains("# TYPE locktop_acquisitions counter\n"), open)
        XCTAssertTrue(open.contains("# HELP locktop_acquisitions Locks taken"), open)
        XCTAssertTrue(open.contains(#"locktop_acquisitions_total{source="/srv/lo\"cks\n"} 0"#), open)
        XCTAssertTrue(open.contains("# TYPE locktop_hold_duration_seconds histogram\n"), "histograms keep their name")
        XCTAssertTrue(open.contains("# TYPE locktop_locks gauge\n"))
        XCTAssertTrue(open.hasSuffix("\n# EOF\n"), open)
        XCTAssertEqual(open.components(separatedBy: "# EOF").count, 2, "one EOF")
        // Every sample line is passed through as it was.
        let samples = { (exposition: String) in exposition.split(separator: "\n").filter { !$0.hasPrefix("#") } }
        XCTAssertEqual(samples(open), samples(text))
    }

    func testTwoSourcesShareOneRegistryEachWithItsLabel() {
        let exposition = MetricsExposition(version: "1")
        _ = LockMetrics(source: "/a", registry: exposition.registry)
        _ = LockMetrics(source: "redis://h:6379/0", registry: exposition.registry)
        let text = String(decoding: exposition.bytes(.prometheusText), as: UTF8.self)
        XCTAssertEqual(text.components(separatedBy: "# TYPE locktop_locks gauge").count, 2, "one family")
        XCTAssertTrue(text.contains(#"locktop_source_up{source="/a"}"#), text)
        XCTAssertTrue(text.contains(#"locktop_source_up{source="redis://h:6379/0"}"#), text)
        XCTAssertEqual(text.components(separatedBy: "locktop_build_info{").count, 2, "build info once")
    }
}
