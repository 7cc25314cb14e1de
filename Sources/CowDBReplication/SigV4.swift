import Crypto
import Foundation

/// The key pair and region that sign requests to an S3-compatible server.
public struct S3Credentials: Sendable, Equatable {
    /// The access key ID (`AWS_ACCESS_KEY_ID`).
    public var accessKeyID: String
    /// The secret access key (`AWS_SECRET_ACCESS_KEY`).
    public var secretAccessKey: String
    /// The region in the credential scope (`AWS_REGION`, us-east-1 when unset).
    public var region: String
    /// The session token of temporary credentials (`AWS_SESSION_TOKEN`), sent and signed as
    /// `x-amz-security-token`; nil for long-term keys.
    public var sessionToken: String?

    /// Credentials from their parts.
    public init(accessKeyID: String, secretAccessKey: String, region: String = "us-east-1", sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.region = region
        self.sessionToken = sessionToken
    }
}

/// AWS Signature Version 4 for S3: the canonical request, the string to sign, the derived
/// signing key and the `Authorization` header, with the payload's SHA-256 sent as
/// `x-amz-content-sha256`.
public struct SigV4Signer: Sendable {
    /// The credentials that sign.
    public let credentials: S3Credentials
    /// The service in the credential scope.
    public let service: String

    /// A signer for `service` (s3 unless told).
    public init(credentials: S3Credentials, service: String = "s3") {
        self.credentials = credentials
        self.service = service
    }

    /// The SHA-256 of the empty payload, as S3 expects for a GET or DELETE.
    public static let emptyPayloadHash = hexSHA256([])

    /// The headers to send: `headers` plus `host`, `x-amz-date`, `x-amz-content-sha256`,
    /// `x-amz-security-token` (with a session token) and `Authorization`. `path` is the unencoded object path (`/bucket/key`); `host` is the
    /// `Host` header's value (with `:port` when it is not the scheme's default).
    public func sign(
        method: String, host: String, path: String, query: [(String, String)] = [],
        headers: [(String, String)] = [], payloadHash: String, date: Date
    ) -> [(String, String)] {
        let stamp = Self.timestamp(date)
        var all = headers
        all.append(("host", host))
        all.append(("x-amz-date", stamp))
        all.append(("x-amz-content-sha256", payloadHash))
        if let token = credentials.sessionToken { all.append(("x-amz-security-token", token)) }
        let request = canonicalRequest(
            method: method, path: path, query: query, headers: all, payloadHash: payloadHash)
        let scope = "\(stamp.prefix(8))/\(credentials.region)/\(service)/aws4_request"
        let toSign = stringToSign(timestamp: stamp, scope: scope, canonicalRequest: request.text)
        let signature = Self.hex(Self.hmac(signingKey(day: String(stamp.prefix(8))), toSign))
        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), "
            + "SignedHeaders=\(request.signedHeaders), Signature=\(signature)"
        return all + [("Authorization", authorization)]
    }

    /// The canonical request and its `SignedHeaders` list.
    public func canonicalRequest(
        method: String, path: String, query: [(String, String)], headers: [(String, String)],
        payloadHash: String
    ) -> (text: String, signedHeaders: String) {
        let normalized = headers.map { (name: $0.0.lowercased(), value: Self.trimHeaderValue($0.1)) }
            .sorted { $0.name < $1.name }
        let canonicalHeaders = normalized.map { "\($0.name):\($0.value)\n" }.joined()
        let signedHeaders = normalized.map(\.name).joined(separator: ";")
        let encodedQuery: [(String, String)] = query.map {
            (Self.uriEncode($0.0, keepSlash: false), Self.uriEncode($0.1, keepSlash: false))
        }
        let canonicalQuery = encodedQuery.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let canonicalURI = Self.uriEncode(path, keepSlash: true)
        let parts: [String] = [method, canonicalURI, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash]
        let text = parts.joined(separator: "\n")
        return (text, signedHeaders)
    }

    /// The string to sign: algorithm, timestamp, scope and the canonical request's hash.
    public func stringToSign(timestamp: String, scope: String, canonicalRequest: String) -> String {
        "AWS4-HMAC-SHA256\n\(timestamp)\n\(scope)\n\(Self.hexSHA256(Array(canonicalRequest.utf8)))"
    }

    /// The key derived from the secret for one day (`yyyymmdd`), region and service.
    func signingKey(day: String) -> [UInt8] {
        let dateKey = Self.hmac(Array("AWS4\(credentials.secretAccessKey)".utf8), day)
        let regionKey = Self.hmac(dateKey, credentials.region)
        let serviceKey = Self.hmac(regionKey, service)
        return Self.hmac(serviceKey, "aws4_request")
    }

    /// `yyyymmddThhmmssZ` in UTC.
    public static func timestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }

    /// Percent-encodes everything but unreserved characters (and `/` when `keepSlash`).
    public static func uriEncode(_ text: String, keepSlash: Bool) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                let digits = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return out
    }

    /// Lowercase hex of the SHA-256 of `bytes`.
    public static func hexSHA256(_ bytes: [UInt8]) -> String {
        hex(Array(SHA256.hash(data: bytes)))
    }

    /// HMAC-SHA256 of `message` under `key`.
    static func hmac(_ key: [UInt8], _ message: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: SymmetricKey(data: key)))
    }

    /// Lowercase hex digits.
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A header value with its ends trimmed and inner runs of spaces made one.
    static func trimHeaderValue(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }
}
