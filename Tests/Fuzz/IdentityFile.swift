/// libFuzzer target `identities`: an `identities.json` as a hostile or broken writer left it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIdentityFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    _ = IdentityFile.parse(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
