// Reference definitions for the golden tests, written from FORMAT.md (not from the engine's code).

import CCowDBSupport
import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree
import Glibc

// MARK: - Reference definitions, written from FORMAT.md

/// CRC-32C computed bit by bit (reflected polynomial 0x82F63B78), independent of the C code.
func referenceCRC(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0 ..< 8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return ~crc
}

/// A run's checksum as FORMAT.md defines it: CRC-32C of the page number (u64 LE), then bytes [4, end).
func referenceChecksum(_ run: UnsafeRawBufferPointer, pageNumber: UInt64) -> UInt32 {
    var bytes = (0 ..< 8).map { UInt8(truncatingIfNeeded: pageNumber >> (8 * UInt64($0))) }
    bytes += run[4...]
    return referenceCRC(bytes)
}

/// Recomputes the file header's checksum after a test changed a field.
func reseal64(_ bytes: UnsafeMutableRawBufferPointer) {
    bytes.setU32(crc32c(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[0 ..< 60])), 60)
}

/// Lowercase hex of some bytes.
func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// A hex literal with its spaces and line breaks removed.
func compact(_ literal: String) -> String {
    literal.filter { !$0.isWhitespace }
}

/// Asserts that `body` throws a `CowDBError` and hands it to `check`.
func expectError<T>(_ body: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line,
                            _ check: (CowDBError) -> Void) {
    do {
        _ = try body()
        XCTFail("expected an error", file: file, line: line)
    } catch let error as CowDBError {
        check(error)
    } catch {
        XCTFail("expected a CowDBError, got \(error)", file: file, line: line)
    }
}

/// Asserts that `body` throws `corrupt` naming `page` and (when given) `offset`.
func expectCorrupt(page: UInt64, offset: Int?, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected corrupt(page: \(page))", file: file, line: line)
    } catch let CowDBError.corrupt(actualPage, actualOffset, reason) {
        XCTAssertEqual(actualPage, page, reason, file: file, line: line)
        if let offset { XCTAssertEqual(actualOffset, offset, reason, file: file, line: line) }
    } catch {
        XCTFail("expected corrupt, got \(error)", file: file, line: line)
    }
}
