/// libFuzzer target `first-seen`: a `redis-first-seen.json`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFirstSeen(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    _ = FirstSeenLedger.parse(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
