import CRdKafka
import Foundation

/// The librdkafka version check run before any handle is created.
///
/// Debian's librdkafka 2.0.2 shares the soname `librdkafka.so.1` with the 2.8 build under /usr/local, so
/// the loader can quietly pick the old one (an `LD_LIBRARY_PATH`, a missing rpath); 2.0 cannot parse
/// current brokers' ApiVersions replies and fails in confusing ways much later. Failing at start with the
/// library's path says what to fix.
public enum KafkaVersion {
    /// The oldest librdkafka the bus is tested with (`0xMMmmrrpp`, as `rd_kafka_version()` reports).
    public static let minimum: Int32 = 0x0208_0000

    /// The version of the librdkafka this process actually loaded.
    public static var loaded: Int32 { rd_kafka_version() }

    /// `rd_kafka_version_str()` of the loaded library, e.g. "2.8.0".
    public static var loadedString: String { String(cString: rd_kafka_version_str()) }

    /// Throws `KafkaSetupError.unsupportedLibrary` when `version` is older than `minimum`.
    public static func check(_ version: Int32 = loaded, libraryPath: String? = loadedLibraryPath) throws {
        guard version < minimum else { return }
        throw KafkaSetupError.unsupportedLibrary(
            loaded: describe(version), required: describe(minimum), path: libraryPath)
    }

    /// "2.8.0" from `0x020800ff`.
    public static func describe(_ version: Int32) -> String {
        let v = UInt32(bitPattern: version)
        return "\(v >> 24 & 0xff).\(v >> 16 & 0xff).\(v >> 8 & 0xff)"
    }

    /// The file the dynamic loader resolved librdkafka from, so the error names the wrong copy (Linux).
    public static var loadedLibraryPath: String? {
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return nil }
        for line in maps.split(separator: "\n") {
            guard let slash = line.firstIndex(of: "/") else { continue }
            let path = line[slash...]
            if path.contains("librdkafka") { return String(path) }
        }
        return nil
    }
}
