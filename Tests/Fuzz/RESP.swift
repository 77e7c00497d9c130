/// libFuzzer target `resp`: what a Redis server (or anything listening there) sends.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRESP(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var index = 0
    while index < bytes.count, let value = try? RESPValue.parse(bytes, at: &index) {
        _ = value.elements
        _ = value.text
    }
    return 0
}
