import Foundation
import Prometheus

/// The one registry of `locktop serve`, shared by every source's ``LockMetrics``, and its exposition
/// in the format a scraper asks for: Prometheus's text format 0.0.4, as swift-prometheus writes it,
/// or OpenMetrics 1.0.0 when the `Accept` header asks for `application/openmetrics-text`.
public final class MetricsExposition: Sendable {
    /// The registry every source's metrics are made in.
    public let registry = PrometheusCollectorRegistry()

    /// The formats `/metrics` answers in.
    public enum Format: Sendable {
        case prometheusText
        case openMetrics

        /// The `Content-Type` of an exposition in this format.
        public var contentType: String {
            switch self {
            case .prometheusText: "text/plain; version=0.0.4; charset=utf-8"
            case .openMetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8"
            }
        }

        /// The format a request's `Accept` header asks for: OpenMetrics when it names it (Prometheus
        /// does, first), else the text format, which every scraper reads.
        public static func negotiated(accept: String?) -> Format {
            guard let accept else { return .prometheusText }
            let named = accept.split(separator: ",").contains { range in
                let fields = range.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                guard fields.first?.lowercased() == "application/openmetrics-text" else { return false }
                // `q=0` refuses the type.
                return !fields.dropFirst().contains { $0.replacingOccurrences(of: " ", with: "") == "q=0" }
            }
            return named ? .openMetrics : .prometheusText
        }
    }

    /// An exposition labelled with locktop's `version` (`locktop_build_info`).
    public init(version: String) {
        registry.makeGauge(
            descriptor: LockMetrics.name("build_info", unit: "", help: "locktop's version, as 1"),
            labels: [("version", LockMetrics.labelValue(version))]
        ).set(Double(1))
    }

    /// Every metric, in `format`.
    public func bytes(_ format: Format) -> [UInt8] {
        let text = registry.emitToBuffer()
        switch format {
        case .prometheusText: return text
        case .openMetrics: return Self.openMetrics(fromText: text)
        }
    }

    /// An exposition in Prometheus's text format, as OpenMetrics: the two differ, for what the
    /// registry writes, only in that a counter's family is named without its `_total` suffix in
    /// `# HELP` and `# TYPE` (its samples keep it), and that the exposition ends with `# EOF`. Label
    /// values are escaped alike in both, so sample lines are passed through untouched.
    static func openMetrics(fromText text: [UInt8]) -> [UInt8] {
        let lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let typePrefix = Array("# TYPE ".utf8)
        let helpPrefix = Array("# HELP ".utf8)
        let counterSuffix = Array(" counter".utf8)
        let total = Array("_total".utf8)
        /// The name a `# HELP` or `# TYPE` line is about.
        func name(in line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
            line.dropFirst(typePrefix.count).prefix { $0 != UInt8(ascii: " ") }
        }
        var counters = Set<ArraySlice<UInt8>>()
        for line in lines where line.starts(with: typePrefix) && line.reversed().starts(with: counterSuffix.reversed())
        {
            counters.insert(name(in: line))
        }
        var output = [UInt8]()
        output.reserveCapacity(text.count + 8)
        for line in lines where !line.isEmpty {
            let isMetadata = line.starts(with: typePrefix) || line.starts(with: helpPrefix)
            let named = name(in: line)
            if isMetadata, counters.contains(named), named.reversed().starts(with: total.reversed()) {
                output.append(contentsOf: line.prefix(typePrefix.count))
                output.append(contentsOf: named.dropLast(total.count))
                output.append(contentsOf: line.dropFirst(typePrefix.count + named.count))
            } else {
                output.append(contentsOf: line)
            }
            output.append(UInt8(ascii: "\n"))
        }
        output.append(contentsOf: Array("# EOF\n".utf8))
        return output
    }
}
