/// libFuzzer target `audit-line`: one line of an audit log.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAuditLine(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let entry = AuditLog.Entry(line: bytes) { _ = entry.encoded() }
    return 0
}
