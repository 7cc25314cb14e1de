import Foundation

/// Where an S3-compatible server is and who signs for it; objects are addressed path-style
/// (`ENDPOINT/BUCKET/KEY`).
public struct S3Configuration: Sendable, Equatable {
    /// `http` or `https`.
    public var scheme: String
    /// The server's host name or address.
    public var host: String
    /// The port, nil for the scheme's default.
    public var port: Int?
    /// The signing credentials and region.
    public var credentials: S3Credentials

    /// A configuration from an endpoint URL (`http://127.0.0.1:9000`) and credentials.
    public init(endpoint: String, credentials: S3Credentials) throws(S3ConfigurationError) {
        guard let components = URLComponents(string: endpoint), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else { throw .badEndpoint(endpoint) }
        guard components.path.isEmpty || components.path == "/", components.query == nil else {
            throw .badEndpoint(endpoint)
        }
        self.scheme = scheme
        self.host = host
        self.port = components.port
        self.credentials = credentials
    }

    /// A configuration from `AWS_ENDPOINT_URL` (or `endpoint` when given), `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` (us-east-1 when unset) and `AWS_SESSION_TOKEN`
    /// (for temporary credentials, optional).
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment, endpoint: String? = nil
    ) throws(S3ConfigurationError) -> S3Configuration {
        func required(_ name: String) throws(S3ConfigurationError) -> String {
            guard let value = environment[name], !value.isEmpty else { throw .missing(name) }
            return value
        }
        let url: String
        if let endpoint { url = endpoint } else { url = try required("AWS_ENDPOINT_URL") }
        let region = environment["AWS_REGION"].flatMap { $0.isEmpty ? nil : $0 } ?? "us-east-1"
        let credentials = S3Credentials(
            accessKeyID: try required("AWS_ACCESS_KEY_ID"),
            secretAccessKey: try required("AWS_SECRET_ACCESS_KEY"), region: region,
            sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
        return try S3Configuration(endpoint: url, credentials: credentials)
    }

    /// The `Host` header: the host, with the port when it is not the scheme's default.
    public var hostHeader: String {
        guard let port, port != (scheme == "https" ? 443 : 80) else { return host }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// A configuration that cannot be used.
public enum S3ConfigurationError: Error, Equatable, CustomStringConvertible {
    /// An environment variable that must be set is not.
    case missing(String)
    /// The endpoint is not `http(s)://HOST[:PORT]`.
    case badEndpoint(String)

    /// The one-line description.
    public var description: String {
        switch self {
        case .missing(let name): "s3: \(name) is not set"
        case .badEndpoint(let url): "s3: bad endpoint URL '\(url)' (expected http(s)://HOST[:PORT])"
        }
    }
}
