/// libFuzzer target `host-report`: a `.locktop/host-NAME.json` as a hostile or broken agent left it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHostReport(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let report = HostReport(parsing: bytes) {
        // What a reader does with one: its file name, and a round trip through the writer.
        _ = HostReport.fileName(forHost: report.hostName)
        _ = HostReport(parsing: report.encoded())
    }
    return 0
}
