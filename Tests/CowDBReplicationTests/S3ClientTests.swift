import CowDBReplication
import CowDBTestSupport
import XCTest

/// The S3 client against a real S3 API server (moto_server) started for the test.
final class S3ClientTests: XCTestCase {
    /// A bucket is created; objects are put, listed by prefix, read back, deleted; errors are one line.
    func testPutListGetDeleteAgainstMoto() async throws {
        let server = try await MotoServer.shared()
        let client = try server.client()
        let bucket = try await server.freshBucket()

        var generator = SeededGenerator(seed: testSeed("S3ClientTests.put-get"))
        let first = generator.bytes(100_000)
        let second = generator.bytes(17)
        try await client.putObject(bucket: bucket, key: "prefix/generations/1/base", body: first)
        try await client.putObject(bucket: bucket, key: "prefix/a b+c&d.json", body: second)
        try await client.putObject(bucket: bucket, key: "other/x", body: [])

        let listed = try await client.listObjects(bucket: bucket, prefix: "prefix/")
        XCTAssertEqual(listed, [
            S3ObjectSummary(key: "prefix/a b+c&d.json", size: 17),
            S3ObjectSummary(key: "prefix/generations/1/base", size: 100_000),
        ])
        let firstBack = try await client.getObject(bucket: bucket, key: "prefix/generations/1/base")
        XCTAssertEqual(firstBack, first)
        let secondBack = try await client.getObject(bucket: bucket, key: "prefix/a b+c&d.json")
        XCTAssertEqual(secondBack, second)

        try await client.deleteObject(bucket: bucket, key: "prefix/generations/1/base")
        let afterDelete = try await client.listObjects(bucket: bucket, prefix: "prefix/")
        XCTAssertEqual(afterDelete.map(\.key), ["prefix/a b+c&d.json"])
        do {
            _ = try await client.getObject(bucket: bucket, key: "prefix/generations/1/base")
            XCTFail("a GET of a deleted object succeeded")
        } catch let error as S3Error {
            XCTAssertEqual(error.status, 404)
            XCTAssertEqual(error.code, "NoSuchKey")
            XCTAssertTrue(
                error.description.hasPrefix("s3 GET prefix/generations/1/base: 404 NoSuchKey "), error.description)
            XCTAssertFalse(error.description.contains("\n"))
        }
    }

    /// Endpoint and credentials come from the AWS_* variables; the region defaults to us-east-1.
    func testConfigurationFromEnvironment() throws {
        let base = ["AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"]
        let local = try S3Configuration.fromEnvironment(base.merging(["AWS_ENDPOINT_URL": "http://127.0.0.1:9000"]) { $1 })
        XCTAssertEqual(local.credentials, S3Credentials(accessKeyID: "id", secretAccessKey: "secret", region: "us-east-1"))
        XCTAssertEqual(local.hostHeader, "127.0.0.1:9000")
        let remote = try S3Configuration.fromEnvironment(
            base.merging(["AWS_ENDPOINT_URL": "https://s3.example.com:443/", "AWS_REGION": "eu-west-1"]) { $1 })
        XCTAssertEqual(remote.hostHeader, "s3.example.com")
        XCTAssertEqual(remote.credentials.region, "eu-west-1")
        XCTAssertThrowsError(try S3Configuration.fromEnvironment(base)) { error in
            XCTAssertEqual((error as? S3ConfigurationError)?.description, "s3: AWS_ENDPOINT_URL is not set")
        }
        XCTAssertThrowsError(try S3Configuration.fromEnvironment(["AWS_ENDPOINT_URL": "http://h"])) { error in
            XCTAssertEqual(error as? S3ConfigurationError, .missing("AWS_ACCESS_KEY_ID"))
        }
        XCTAssertThrowsError(try S3Configuration.fromEnvironment(base, endpoint: "ftp://h/x")) { error in
            XCTAssertEqual(error as? S3ConfigurationError, .badEndpoint("ftp://h/x"))
        }
    }
}
