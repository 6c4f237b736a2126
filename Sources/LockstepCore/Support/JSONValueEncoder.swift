/// Encodes any `Encodable` into a `JSONValue` tree, to be printed with `canonicalJSON()`.
///
/// The state store writes every run the coordinator touches as a JSON document, and a rebuild writes
/// every run there is: through `JSONEncoder` that was about 80 µs per finished five-task run, most of
/// a rebuild's store write and the largest part of a commit's Swift side (docs/performance.md).
/// Printed canonically the result has the bytes `JSONEncoder` gives with `.sortedKeys` and
/// `.withoutEscapingSlashes` and its default strategies (a `Date` as its seconds since 2001), so
/// what was stored before reads the same and what is stored now reads with `JSONDecoder` too.
public struct JSONValueEncoder: Sendable {
    public init() {}

    public func encode(_ value: some Encodable) throws -> JSONValue {
        try JSONTreeEncoder.encode(value, codingPath: [])
    }
}

/// A node while it is being built: containers are shared references, as `Encoder` hands out nested
/// containers that must write into their parent after they are returned.
private final class JSONTreeNode {
    enum Content {
        case unset
        case value(JSONValue)
        case object([String: JSONTreeNode])
        case array([JSONTreeNode])
    }

    var content: Content = .unset

    init() {}
    init(_ value: JSONValue) { content = .value(value) }

    var value: JSONValue {
        switch content {
        case .unset: return .object([:])  // an `encode(to:)` that asked for no container: as JSONEncoder, `{}`
        case .value(let value): return value
        case .object(let members): return .object(members.mapValues(\.value))
        case .array(let elements): return .array(elements.map(\.value))
        }
    }
}

/// `codingPath` stays empty below the top: extending it allocated an array for every value encoded,
/// and nothing the store writes reads it (the one error here names the value instead).
private struct JSONTreeEncoder: Encoder {
    let node: JSONTreeNode
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// The tree for one value, without a round through containers for the values that are already JSON.
    static func encode(_ value: some Encodable, codingPath: [any CodingKey]) throws -> JSONValue {
        try node(for: value, codingPath: codingPath).value
    }

    static func node<T: Encodable>(for value: T, codingPath: [any CodingKey]) throws -> JSONTreeNode {
        // Compared by type, not with `as?`: a failing dynamic cast tries bridging through NSString
        // on Linux, and that was a tenth of the encoding's time.
        if T.self == JSONValue.self { return JSONTreeNode(value as! JSONValue) }
        if T.self == String.self { return JSONTreeNode(.string(value as! String)) }
        if T.self == Int.self { return JSONTreeNode(.int(Int64(value as! Int))) }
        if T.self == Bool.self { return JSONTreeNode(.bool(value as! Bool)) }
        let node = JSONTreeNode()
        try value.encode(to: JSONTreeEncoder(node: node, codingPath: codingPath))
        return node
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = node.content {} else { node.content = .object([:]) }
        return KeyedEncodingContainer(KeyedContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array = node.content {} else { node.content = .array([]) }
        return UnkeyedContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueContainer(node: node, codingPath: codingPath)
    }

    /// A number as `JSONEncoder` prints it: integers exactly, a `Float` by its own shortest form.
    static func number(_ value: some BinaryInteger, codingPath: [any CodingKey]) throws -> JSONValue {
        guard let int = Int64(exactly: value) else {
            // JSONEncoder prints a UInt64 beyond Int64 exactly; JSONValue cannot hold it.
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "\(value) is beyond Int64"))
        }
        return .int(int)
    }

    static func number(_ value: Float) -> JSONValue { .double(Double(value.description) ?? Double(value)) }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: JSONTreeNode
    let codingPath: [any CodingKey]

    private func set(_ child: JSONTreeNode, for key: Key) { set(child, named: key.stringValue) }

    private func set(_ child: JSONTreeNode, named name: String) {
        guard case .object(var members) = node.content else { return }
        node.content = .unset  // keeps `members` uniquely referenced while it changes
        members[name] = child
        node.content = .object(members)
    }

    private func set(_ value: JSONValue, for key: Key) { set(JSONTreeNode(value), for: key) }

    mutating func encodeNil(forKey key: Key) throws { set(.null, for: key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(.bool(value), for: key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), for: key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { set(.double(value), for: key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { set(JSONTreeEncoder.number(value), for: key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(.int(Int64(value)), for: key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { set(.int(Int64(value)), for: key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { set(.int(Int64(value)), for: key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(.int(Int64(value)), for: key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(.int(value), for: key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { set(try JSONTreeEncoder.number(value, codingPath: codingPath), for: key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { set(.int(Int64(value)), for: key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { set(.int(Int64(value)), for: key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { set(.int(Int64(value)), for: key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { set(try JSONTreeEncoder.number(value, codingPath: codingPath), for: key) }
    mutating func encode(_ value: some Encodable, forKey key: Key) throws {
        set(try JSONTreeEncoder.node(for: value, codingPath: codingPath), for: key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let child = JSONTreeNode()
        set(child, for: key)
        return JSONTreeEncoder(node: child, codingPath: codingPath).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = JSONTreeNode()
        set(child, for: key)
        return JSONTreeEncoder(node: child, codingPath: codingPath).unkeyedContainer()
    }

    /// Under "super", as `JSONEncoder` does (a synthesized `CodingKeys` has no such case to build).
    mutating func superEncoder() -> any Encoder {
        let child = JSONTreeNode()
        set(child, named: "super")
        return JSONTreeEncoder(node: child, codingPath: codingPath)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let child = JSONTreeNode()
        set(child, for: key)
        return JSONTreeEncoder(node: child, codingPath: codingPath)
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let node: JSONTreeNode
    let codingPath: [any CodingKey]

    var count: Int {
        if case .array(let elements) = node.content { return elements.count }
        return 0
    }

    private func append(_ child: JSONTreeNode) {
        guard case .array(var elements) = node.content else { return }
        node.content = .unset  // keeps `elements` uniquely referenced while it grows
        elements.append(child)
        node.content = .array(elements)
    }

    private func append(_ value: JSONValue) { append(JSONTreeNode(value)) }

    mutating func encodeNil() throws { append(.null) }
    mutating func encode(_ value: Bool) throws { append(.bool(value)) }
    mutating func encode(_ value: String) throws { append(.string(value)) }
    mutating func encode(_ value: Double) throws { append(.double(value)) }
    mutating func encode(_ value: Float) throws { append(JSONTreeEncoder.number(value)) }
    mutating func encode(_ value: Int) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: Int8) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: Int16) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: Int32) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: Int64) throws { append(.int(value)) }
    mutating func encode(_ value: UInt) throws { append(try JSONTreeEncoder.number(value, codingPath: codingPath)) }
    mutating func encode(_ value: UInt8) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: UInt16) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: UInt32) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: UInt64) throws { append(try JSONTreeEncoder.number(value, codingPath: codingPath)) }
    mutating func encode(_ value: some Encodable) throws {
        append(try JSONTreeEncoder.node(for: value, codingPath: codingPath))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let child = JSONTreeNode()
        append(child)
        return JSONTreeEncoder(node: child, codingPath: codingPath).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = JSONTreeNode()
        append(child)
        return JSONTreeEncoder(node: child, codingPath: codingPath).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let child = JSONTreeNode()
        append(child)
        return JSONTreeEncoder(node: child, codingPath: codingPath)
    }
}

private struct SingleValueContainer: SingleValueEncodingContainer {
    let node: JSONTreeNode
    let codingPath: [any CodingKey]

    private func set(_ value: JSONValue) { node.content = .value(value) }

    mutating func encodeNil() throws { set(.null) }
    mutating func encode(_ value: Bool) throws { set(.bool(value)) }
    mutating func encode(_ value: String) throws { set(.string(value)) }
    mutating func encode(_ value: Double) throws { set(.double(value)) }
    mutating func encode(_ value: Float) throws { set(JSONTreeEncoder.number(value)) }
    mutating func encode(_ value: Int) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int8) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int16) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int32) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int64) throws { set(.int(value)) }
    mutating func encode(_ value: UInt) throws { set(try JSONTreeEncoder.number(value, codingPath: codingPath)) }
    mutating func encode(_ value: UInt8) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: UInt16) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: UInt32) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: UInt64) throws { set(try JSONTreeEncoder.number(value, codingPath: codingPath)) }
    mutating func encode(_ value: some Encodable) throws {
        node.content = try JSONTreeEncoder.node(for: value, codingPath: codingPath).content
    }
}
