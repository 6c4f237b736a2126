/// Key → partition for the embedded log: Kafka's default (Java `DefaultPartitioner`, librdkafka
/// `murmur2_random`), so one key lands on the same partition number on either transport.
enum EmbeddedPartitioner {
    static func partition(forKey key: String, partitions: Int) -> Int32 {
        Int32(Int(murmur2(Array(key.utf8)) & 0x7fff_ffff) % max(1, partitions))
    }

    /// MurmurHash2 as Kafka computes it (seed 0x9747b28c, little-endian blocks).
    static func murmur2(_ data: [UInt8]) -> UInt32 {
        let m: UInt32 = 0x5bd1_e995
        let length = data.count
        var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: length)
        var i = 0
        while i + 4 <= length {
            var k = UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2]) << 16 | UInt32(data[i + 3]) << 24
            k &*= m
            k ^= k >> 24
            k &*= m
            h &*= m
            h ^= k
            i += 4
        }
        let tail = length - i
        if tail == 3 { h ^= UInt32(data[i + 2]) << 16 }
        if tail >= 2 { h ^= UInt32(data[i + 1]) << 8 }
        if tail >= 1 {
            h ^= UInt32(data[i])
            h &*= m
        }
        h ^= h >> 13
        h &*= m
        h ^= h >> 15
        return h
    }
}
