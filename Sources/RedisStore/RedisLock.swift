/// One prefect-redis lock as read: the string key `<prefix><key>`, whose value is the holder's
/// token, and its time to live.
public struct RedisLock: Equatable, Sendable {
    /// The whole Redis key, as raw bytes (`lock:task.b`).
    public var name: [UInt8]
    /// The record key it locks: the name without the prefix, decoded (invalid UTF-8 replaced).
    public var key: String
    /// The value: the holder's token, raw (a uuid4, `host:pid:thread:name`, a uuid1 hex).
    public var holder: [UInt8]
    /// Milliseconds left before Redis expires it (PTTL), nil when it has no TTL.
    public var timeToLive: Int?
    /// The value of its companion `locktop:holder:<key>`, raw and untrusted: the identity JSON the
    /// Prefect helper writes beside the locks it takes; nil when there is none.
    public var holderRecord: [UInt8]?

    public init(name: [UInt8], key: String, holder: [UInt8], timeToLive: Int?, holderRecord: [UInt8]? = nil) {
        self.name = name
        self.key = key
        self.holder = holder
        self.timeToLive = timeToLive
        self.holderRecord = holderRecord
    }

    /// The holder as text (invalid UTF-8 replaced); untrusted, to be escaped before any terminal.
    public var holderText: String { String(decoding: holder, as: UTF8.self) }
}
