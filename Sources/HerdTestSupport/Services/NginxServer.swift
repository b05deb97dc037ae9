import Foundation

/// Debian's nginx started by a test on loopback, in a temp dir, in the foreground as the test's own
/// user (`master_process off`), with Mastodon's proxy layout: each site proxies `/api/v1/streaming` to
/// a `streaming` upstream and everything else to a `backend` upstream, as Mastodon's dist/nginx.conf,
/// including its `error_page … /500.html`: nginx's own 502/504 come as Mastodon's HTML error page with
/// nginx's status, while answers from the backend (Rails' JSON 500) pass through as they are.
public final class NginxServer: @unchecked Sendable {
    public struct Site: Sendable {
        public var backend: Int
        public var streaming: Int
        /// Certificate and key PEM paths: the site listens with TLS (1.2 and 1.3 only).
        public var tls: (certificate: String, key: String)?
        /// nginx reads the certificate at every handshake (a variable in `ssl_certificate`), so a file
        /// replaced in place is served at once — what a renewal and a reload do, without the reload's gap.
        public var certificatePerHandshake: Bool
        public init(
            backend: Int, streaming: Int, tls: (certificate: String, key: String)? = nil,
            certificatePerHandshake: Bool = false
        ) {
            self.backend = backend
            self.streaming = streaming
            self.tls = tls
            self.certificatePerHandshake = certificatePerHandshake
        }
    }

    public let directory: TemporaryDirectory
    /// One listening port per site, in order.
    public let ports: [Int]
    public var errorLog: String { directory.file("logs/error.log") }
    public var accessLog: String { directory.file("logs/access.log") }
    private let process: Process

    public static var executable: String? {
        ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// `ports`: where to listen (default: free ports), e.g. the port of an nginx stopped before, to
    /// stand for one restarted with another configuration.
    public init(sites: [Site], readTimeoutSeconds: Int = 1, ports: [Int]? = nil) throws {
        guard let executable = Self.executable else {
            throw FixtureError("nginx is not installed (scripts/test.sh installs it)")
        }
        directory = try TemporaryDirectory("herd-nginx")
        self.ports = try ports ?? sites.map { _ in try FreePort.next() }
        var servers = ""
        for (index, site) in sites.enumerated() {
            var tls = ""
            if let files = site.tls {
                if site.certificatePerHandshake {
                    servers += """
                          map $ssl_server_name $herd_certificate\(index) { default \(files.certificate); }
                          map $ssl_server_name $herd_key\(index) { default \(files.key); }

                        """
                    tls = "ssl_certificate $herd_certificate\(index); ssl_certificate_key $herd_key\(index);"
                } else {
                    tls = "ssl_certificate \(files.certificate); ssl_certificate_key \(files.key);"
                }
                tls += " ssl_protocols TLSv1.2 TLSv1.3;"
            }
            servers += """
                  upstream backend\(index) { server 127.0.0.1:\(site.backend) fail_timeout=0; }
                  upstream streaming\(index) { least_conn; server 127.0.0.1:\(site.streaming) fail_timeout=0; }
                  server {
                    listen 127.0.0.1:\(self.ports[index])\(site.tls == nil ? "" : " ssl");
                    server_name social.test;
                    \(tls)
                    root \(directory.file("public"));
                    error_page 404 500 501 502 503 504 /500.html;
                    location = /500.html { }
                    proxy_read_timeout \(readTimeoutSeconds)s;
                    proxy_connect_timeout \(readTimeoutSeconds)s;
                    location ^~ /api/v1/streaming { proxy_pass http://streaming\(index); }
                    location / { proxy_pass http://backend\(index); }
                  }

                """
        }
        let dir = directory.path
        try directory.write(
            "nginx.conf",
            """
            master_process off;
            daemon off;
            worker_processes 1;
            pid \(dir)/nginx.pid;
            error_log \(dir)/logs/error.log error;
            events { worker_connections 64; }
            http {
              access_log \(dir)/logs/access.log combined;
              client_body_temp_path \(dir)/tmp/body;
              proxy_temp_path \(dir)/tmp/proxy;
              fastcgi_temp_path \(dir)/tmp/fastcgi;
              uwsgi_temp_path \(dir)/tmp/uwsgi;
              scgi_temp_path \(dir)/tmp/scgi;
            \(servers)
            }
            """)
        try FileManager.default.createDirectory(atPath: directory.file("public"), withIntermediateDirectories: true)
        try directory.write("public/500.html", Self.mastodonErrorPage)
        try FileManager.default.createDirectory(atPath: directory.file("tmp"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory.file("logs"), withIntermediateDirectories: true)
        // Ready when the first port answers.
        let first = self.ports[0]
        process = try Self.launch(executable, in: directory) {
            HTTPProbe.status(port: first, method: "GET", path: "/__herd_ready", timeoutSeconds: 2) != nil
        }
    }

    /// nginx in the foreground on `directory/nginx.conf`, its error log in `directory/logs`, once
    /// `ready` says so; if it exits or is not ready within 5 s, it is killed, the directory removed, and
    /// its error log is the error.
    static func launch(_ executable: String, in directory: TemporaryDirectory, ready: () -> Bool) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "-p", directory.path, "-c", directory.file("nginx.conf"), "-e", directory.file("logs/error.log"),
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<200 {
            if ready() { return process }
            guard process.isRunning else { break }
            usleep(25_000)
        }
        let log = (try? String(contentsOfFile: directory.file("logs/error.log"), encoding: .utf8)) ?? ""
        halt(process)
        directory.remove()
        throw FixtureError("nginx did not start: \(log)")
    }

    /// nginx in single-process mode keeps the signal mask it inherited from a test thread, so it may not
    /// see SIGTERM: it is a throwaway, kill it.
    static func halt(_ process: Process) {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The shape of Mastodon's public/500.html: an HTML page, no JSON.
    public static let mastodonErrorPage = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>We're sorry, but something went wrong (500)</title></head>
        <body class="error"><div class="dialog"><h1>We're sorry, but something went wrong on our end.</h1></div></body></html>

        """

    public func stop() {
        Self.halt(process)
        directory.remove()
    }

    deinit { stop() }
}
