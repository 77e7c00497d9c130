/// libFuzzer target `lock-json`: a lock file's bytes, as anyone who may write the directory writes them.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLockJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let content = LockFileContent(parsing: bytes) {
        _ = content.encoded()
        _ = content.namedProcess
    }
    _ = TerminalText.escaped(bytes: bytes)
    return 0
}
