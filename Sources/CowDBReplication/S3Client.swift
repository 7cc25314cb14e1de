import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix

/// One object in a listing.
public struct S3ObjectSummary: Sendable, Equatable {
    /// The object's key.
    public var key: String
    /// Its size in bytes.
    public var size: Int

    /// A summary from its key and size.
    public init(key: String, size: Int) {
        self.key = key
        self.size = size
    }
}

/// PUT, GET, LIST (ListObjectsV2) and DELETE of objects on an S3-compatible server, path-style,
/// signed with SigV4. A response outside 2xx throws an ``S3Error``.
public struct S3Client: Sendable {
    /// The server and credentials.
    public let configuration: S3Configuration
    private let http: HTTPClient
    private let signer: SigV4Signer
    /// The time one request may take, plus one second per MiB of its body.
    public var timeoutSeconds: Int64 = 60
    /// The largest response body read (a GET of a bigger object fails).
    public var maxResponseBytes = 1 << 33
    /// How many times a request that failed transiently (a 5xx or 429 answer, a connection
    /// error, a timeout) is tried again, after 0.1 s, 0.2 s, 0.4 s, … with jitter.
    public var retries = 5

    /// A client for `configuration`, over `httpClient` (the process-wide shared one by default).
    public init(configuration: S3Configuration, httpClient: HTTPClient = .shared) {
        self.configuration = configuration
        self.http = httpClient
        self.signer = SigV4Signer(credentials: configuration.credentials)
    }

    /// Creates `bucket` (PUT /bucket).
    public func createBucket(_ bucket: String) async throws {
        _ = try await send("PUT", bucket: bucket, key: nil, label: bucket)
    }

    /// Stores `body` as `key` in `bucket`, replacing any object there.
    public func putObject(bucket: String, key: String, body: [UInt8]) async throws {
        _ = try await send("PUT", bucket: bucket, key: key, label: key, body: body)
    }

    /// The bytes of `key` in `bucket`.
    public func getObject(bucket: String, key: String) async throws -> [UInt8] {
        try await send("GET", bucket: bucket, key: key, label: key)
    }

    /// The bytes of `key` in `bucket`, nil when it does not exist (404, but not for a missing bucket).
    public func getObjectIfExists(bucket: String, key: String) async throws -> [UInt8]? {
        do {
            return try await getObject(bucket: bucket, key: key)
        } catch let error as S3Error where error.status == 404 && error.code != "NoSuchBucket" {
            return nil
        }
    }

    /// Deletes `key` from `bucket` (no error when it does not exist, as S3 answers).
    public func deleteObject(bucket: String, key: String) async throws {
        _ = try await send("DELETE", bucket: bucket, key: key, label: key)
    }

    /// Every object in `bucket` whose key starts with `prefix`, in key order, across pages.
    /// With `startAfter`, only the keys that sort after it.
    public func listObjects(bucket: String, prefix: String = "", startAfter: String? = nil) async throws -> [S3ObjectSummary] {
        var objects: [S3ObjectSummary] = []
        var token: String? = nil
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let startAfter { query.append(("start-after", startAfter)) }
            if let token { query.append(("continuation-token", token)) }
            let body = try await send("GET", bucket: bucket, key: nil, label: "\(bucket)/\(prefix)", query: query)
            let page = try Self.parseListing(body, label: "\(bucket)/\(prefix)")
            objects += page.objects
            guard page.nextToken == nil || page.nextToken != token else {
                throw S3ResponseError(key: "\(bucket)/\(prefix)", detail: "the listing repeats its continuation token")
            }
            token = page.nextToken
        } while token != nil
        return objects
    }

    /// One page of a ListObjectsV2 answer: its objects and the token of the next page.
    static func parseListing(
        _ body: [UInt8], label: String
    ) throws -> (objects: [S3ObjectSummary], nextToken: String?) {
        let text = String(decoding: body, as: UTF8.self)
        guard text.contains("<ListBucketResult") else { throw S3ResponseError(key: label, detail: "not a listing") }
        let objects = try S3XML.blocks(of: "Contents", in: text).map { block in
            guard let key = S3XML.values(of: "Key", in: block).first,
                let size = S3XML.values(of: "Size", in: block).first.flatMap({ Int($0) })
            else { throw S3ResponseError(key: label, detail: "a listing entry without Key or Size") }
            return S3ObjectSummary(key: key, size: size)
        }
        let truncated = S3XML.firstValue(of: "IsTruncated", in: text) == "true"
        let token = truncated ? S3XML.firstValue(of: "NextContinuationToken", in: text) : nil
        if truncated && token == nil { throw S3ResponseError(key: label, detail: "truncated listing without a token") }
        return (objects, token)
    }

    /// Sends one request, again after a transient failure (up to `retries` times, with
    /// exponential backoff and jitter); the response body, or the last error.
    private func send(
        _ method: String, bucket: String, key: String?, label: String,
        query: [(String, String)] = [], body: [UInt8] = []
    ) async throws -> [UInt8] {
        var attempt = 0
        while true {
            do {
                return try await sendOnce(method, bucket: bucket, key: key, label: label, query: query, body: body)
            } catch {
                guard attempt < retries, Self.isTransient(error), !Task.isCancelled else { throw error }
                let delay = 0.1 * Double(1 << min(attempt, 8)) * Double.random(in: 0.75...1.25)
                attempt += 1
                try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            }
        }
    }

    /// Whether another try may succeed: a 5xx or 429 answer, or no answer at all (connection
    /// refused or reset, a timeout); never a 4xx or a malformed answer.
    public static func isTransient(_ error: any Error) -> Bool {
        switch error {
        case let error as S3Error: error.isTransient
        case is HTTPClientError, is IOError, is NIOConnectionError, is ChannelError: true
        default: false
        }
    }

    /// Signs and sends one request; the response body, or an ``S3Error`` outside 2xx.
    private func sendOnce(
        _ method: String, bucket: String, key: String?, label: String,
        query: [(String, String)] = [], body: [UInt8] = []
    ) async throws -> [UInt8] {
        let path = "/" + bucket + (key.map { "/" + $0 } ?? "")
        let payloadHash = SigV4Signer.hexSHA256(body)
        let headers = signer.sign(
            method: method, host: configuration.hostHeader, path: path, query: query,
            payloadHash: payloadHash, date: Date())
        var request = HTTPClientRequest(url: url(path: path, query: query))
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if method == "PUT" { request.body = .bytes(body) }
        let response = try await http.execute(request, timeout: .seconds(timeoutSeconds + Int64(body.count >> 20)))
        let buffer = try await response.body.collect(upTo: maxResponseBytes)
        let bytes = Array(buffer.readableBytesView)
        guard (200..<300).contains(Int(response.status.code)) else {
            throw S3Error(method: method, key: label, status: Int(response.status.code), body: bytes)
        }
        return bytes
    }

    /// The request URL: endpoint, encoded path and the query encoded as it was signed.
    private func url(path: String, query: [(String, String)]) -> String {
        let port = configuration.port.map { ":\($0)" } ?? ""
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        var url = "\(configuration.scheme)://\(host)\(port)\(SigV4Signer.uriEncode(path, keepSlash: true))"
        if !query.isEmpty {
            url += "?" + query.map {
                SigV4Signer.uriEncode($0.0, keepSlash: false) + "=" + SigV4Signer.uriEncode($0.1, keepSlash: false)
            }.joined(separator: "&")
        }
        return url
    }
}

/// A 2xx answer whose body is not what the request expects.
public struct S3ResponseError: Error, Equatable, CustomStringConvertible {
    /// The key or prefix of the request.
    public let key: String
    /// What was wrong.
    public let detail: String

    /// The one-line description.
    public var description: String { "s3 GET \(key): \(detail)" }
}
