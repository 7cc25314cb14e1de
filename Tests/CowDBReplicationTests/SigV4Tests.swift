import Foundation
import XCTest

@testable import CowDBReplication

/// SigV4 against the "GET Object" example in AWS's S3 documentation (Signature Version 4,
/// "Examples: Signature Calculations in AWS Signature Version 4").
final class SigV4Tests: XCTestCase {
    private let signer = SigV4Signer(credentials: S3Credentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1"))
    /// 2013-05-24T00:00:00Z.
    private let date = Date(timeIntervalSince1970: 1_369_353_600)

    func testTimestampAndEmptyPayloadHash() {
        XCTAssertEqual(SigV4Signer.timestamp(date), "20130524T000000Z")
        XCTAssertEqual(SigV4Signer.timestamp(Date(timeIntervalSince1970: 1_700_000_009)), "20231114T221329Z")
        XCTAssertEqual(
            SigV4Signer.emptyPayloadHash, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    func testCanonicalRequestOfTheGetObjectExample() {
        let request = signer.canonicalRequest(
            method: "GET", path: "/test.txt", query: [],
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
                ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash), ("x-amz-date", "20130524T000000Z"),
            ],
            payloadHash: SigV4Signer.emptyPayloadHash)
        XCTAssertEqual(request.signedHeaders, "host;range;x-amz-content-sha256;x-amz-date")
        XCTAssertEqual(
            request.text,
            """
            GET
            /test.txt

            host:examplebucket.s3.amazonaws.com
            range:bytes=0-9
            x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            x-amz-date:20130524T000000Z

            host;range;x-amz-content-sha256;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        XCTAssertEqual(
            SigV4Signer.hexSHA256(Array(request.text.utf8)),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972")
    }

    func testAuthorizationOfTheGetObjectExample() throws {
        let headers = signer.sign(
            method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt",
            headers: [("Range", "bytes=0-9")], payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        let authorization = try XCTUnwrap(headers.first { $0.0 == "Authorization" }?.1)
        XCTAssertEqual(
            authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        XCTAssertEqual(headers.first { $0.0 == "x-amz-date" }?.1, "20130524T000000Z")
    }

    /// Another key, date or region gives another signature (the expected value is not constant).
    func testSignatureDependsOnEveryInput() {
        func authorization(_ signer: SigV4Signer, _ date: Date, _ path: String) -> String? {
            signer.sign(method: "GET", host: "h", path: path, payloadHash: SigV4Signer.emptyPayloadHash, date: date)
                .first { $0.0 == "Authorization" }?.1
        }
        let base = authorization(signer, date, "/a")
        var other = signer.credentials
        other.region = "eu-west-1"
        XCTAssertNotEqual(base, authorization(SigV4Signer(credentials: other), date, "/a"))
        XCTAssertNotEqual(base, authorization(signer, date.addingTimeInterval(86_400), "/a"))
        XCTAssertNotEqual(base, authorization(signer, date, "/b"))
    }

    /// Temporary credentials: the session token is sent as `x-amz-security-token`, signed.
    func testSessionTokenIsSentAndSigned() {
        var temporary = signer.credentials
        temporary.sessionToken = "FwoGZXIvYXdzEXAMPLE"
        let headers = SigV4Signer(credentials: temporary).sign(
            method: "GET", host: "h", path: "/a", payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        XCTAssertEqual(headers.first { $0.0 == "x-amz-security-token" }?.1, "FwoGZXIvYXdzEXAMPLE")
        let authorization = headers.first { $0.0 == "Authorization" }?.1 ?? ""
        XCTAssertTrue(authorization.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"), authorization)
        let plain = signer.sign(method: "GET", host: "h", path: "/a", payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        XCTAssertNil(plain.first { $0.0 == "x-amz-security-token" })
        XCTAssertEqual(try S3Configuration.fromEnvironment(
            ["AWS_ENDPOINT_URL": "http://h", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_SESSION_TOKEN": "t"]).credentials.sessionToken, "t")
    }

    func testQueryAndPathEncoding() {
        XCTAssertEqual(SigV4Signer.uriEncode("/a b/c~d+e", keepSlash: true), "/a%20b/c~d%2Be")
        XCTAssertEqual(SigV4Signer.uriEncode("a/b", keepSlash: false), "a%2Fb")
        let request = signer.canonicalRequest(
            method: "GET", path: "/bucket", query: [("prefix", "g/1"), ("list-type", "2")], headers: [],
            payloadHash: "UNSIGNED-PAYLOAD")
        XCTAssertEqual(request.text.split(separator: "\n", omittingEmptySubsequences: false)[2], "list-type=2&prefix=g%2F1")
    }
}
