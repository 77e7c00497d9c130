/// libFuzzer target `timestamp`: an expiration as a lock file spells it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTimestamp(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let date = PrefectTimestamp.parse(text) { _ = PrefectTimestamp.format(date) }
    return 0
}
