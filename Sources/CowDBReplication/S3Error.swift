/// A response outside 2xx from the server, described on one line:
/// `s3 PUT KEY: 403 AccessDenied Access Denied`.
public struct S3Error: Error, Equatable, CustomStringConvertible {
    /// The HTTP method of the request.
    public let method: String
    /// The object key (or the bucket, for a bucket request).
    public let key: String
    /// The HTTP status code.
    public let status: Int
    /// The error's `<Code>`, empty when the body had none (a HEAD, or not XML).
    public let code: String
    /// The error's `<Message>`, empty when the body had none.
    public let message: String

    /// An error from a response's status and body (an S3 `<Error>` document, or anything).
    public init(method: String, key: String, status: Int, body: [UInt8]) {
        let text = String(decoding: body.prefix(64 * 1024), as: UTF8.self)
        self.method = method
        self.key = key
        self.status = status
        self.code = S3XML.firstValue(of: "Code", in: text) ?? ""
        self.message = S3XML.firstValue(of: "Message", in: text) ?? ""
    }

    /// Whether a retry may succeed (5xx, 429 Too Many Requests).
    public var isTransient: Bool { status >= 500 || status == 429 }

    /// The one-line description.
    public var description: String {
        let detail = [String(status), code, message].filter { !$0.isEmpty }.joined(separator: " ")
        return "s3 \(method) \(key): \(detail)".split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
