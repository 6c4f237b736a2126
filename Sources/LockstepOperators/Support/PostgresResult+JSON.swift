import Foundation
import LockstepCore
import LockstepDrivers

extension PostgresResult {
    /// Column names made unique for use as JSON keys: a repeated name gets `_2`, `_3`, … in column order.
    var jsonKeys: [String] {
        var seen: [String: Int] = [:]
        var taken = Set(columns.map(\.name))
        return columns.map { column in
            let count = seen[column.name, default: 0] + 1
            seen[column.name] = count
            guard count > 1 else { return column.name }
            var n = count
            while taken.contains("\(column.name)_\(n)") { n += 1 }
            taken.insert("\(column.name)_\(n)")
            return "\(column.name)_\(n)"
        }
    }

    /// The kept rows as JSON objects keyed by column name.
    var jsonRows: [JSONValue] {
        let keys = jsonKeys
        return rows.map { row in
            var object: [String: JSONValue] = [:]
            for (index, text) in row.enumerated() {
                object[keys[index]] = Self.json(text, typeOID: columns[index].typeOID)
            }
            return .object(object)
        }
    }

    /// A text value as JSON by its column type: booleans, integers and JSON columns keep their type;
    /// `numeric` becomes an integer when it is one and stays text otherwise (a double would lose digits);
    /// everything else is text.
    static func json(_ text: String?, typeOID: UInt32) -> JSONValue {
        guard let text else { return .null }
        switch typeOID {
        case 16: return .bool(text == "t")
        case 20, 21, 23, 26: return Int64(text).map(JSONValue.int) ?? .string(text)
        case 700, 701: return Double(text).flatMap { $0.isFinite ? JSONValue.double($0) : nil } ?? .string(text)
        case 1700: return Int64(text).map(JSONValue.int) ?? .string(text)
        case 114, 3802: return (try? JSONValue.parse(text)) ?? .string(text)
        default: return .string(text)
        }
    }
}
