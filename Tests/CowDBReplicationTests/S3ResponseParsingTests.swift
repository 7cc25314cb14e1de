import XCTest

@testable import CowDBReplication

/// Error documents and ListObjectsV2 pages parsed without a server.
final class S3ResponseParsingTests: XCTestCase {
    func testErrorDocumentBecomesOneLine() {
        let body = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>AccessDenied</Code><Message>Access
            Denied &amp; logged</Message><RequestId>1</RequestId></Error>
            """
        let error = S3Error(method: "PUT", key: "p/manifest.json", status: 403, body: Array(body.utf8))
        XCTAssertEqual(error.description, "s3 PUT p/manifest.json: 403 AccessDenied Access Denied & logged")
        XCTAssertFalse(error.isTransient)
        let bare = S3Error(method: "HEAD", key: "k", status: 503, body: [])
        XCTAssertEqual(bare.description, "s3 HEAD k: 503")
        XCTAssertTrue(bare.isTransient)
    }

    func testListingPageWithTokenAndEntities() throws {
        let body = """
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>true</IsTruncated>
            <Contents><Key>a&lt;b&#x41;</Key><Size>3</Size></Contents>
            <Contents><Key>c</Key><LastModified>x</LastModified><Size>0</Size></Contents>
            <NextContinuationToken>tok&amp;en</NextContinuationToken></ListBucketResult>
            """
        let page = try S3Client.parseListing(Array(body.utf8), label: "b/")
        XCTAssertEqual(page.objects, [S3ObjectSummary(key: "a<bA", size: 3), S3ObjectSummary(key: "c", size: 0)])
        XCTAssertEqual(page.nextToken, "tok&en")
        XCTAssertThrowsError(try S3Client.parseListing(Array("<Error/>".utf8), label: "b/"))
        let broken = "<ListBucketResult><Contents><Key>a</Key></Contents></ListBucketResult>"
        XCTAssertThrowsError(try S3Client.parseListing(Array(broken.utf8), label: "b/"))
    }
}
