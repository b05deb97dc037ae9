import Foundation

/// Debian's nginx started by a test on loopback, in a temp dir, in the foreground as the test's own
/// user (`master_process off`), with Mastodon's proxy layout: each site proxies `/api/v1/streaming` to
/// a `streaming` upstream and everything else to a `backend` upstream, as Mastodon's dist/nginx.conf.
public final class NginxServer: @unchecked Sendable {
    public struct Site: Sendable {
        public var backend: Int
        public var streaming: Int
        public init(backend: Int, streaming: Int) {
            self.backend = backend
            self.streaming = streaming
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

    public init(sites: [Site], readTimeoutSeconds: Int = 1) throws {
        guard let executable = Self.executable else {
            throw FixtureError("nginx is not installed (scripts/test.sh installs it)")
        }
        directory = try TemporaryDirectory("herd-nginx")
        ports = try sites.map { _ in try FreePort.next() }
        var servers = ""
        for (index, site) in sites.enumerated() {
            servers += """
                  upstream backend\(index) { server 127.0.0.1:\(site.backend) fail_timeout=0; }
                  upstream streaming\(index) { least_conn; server 127.0.0.1:\(site.streaming) fail_timeout=0; }
                  server {
                    listen 127.0.0.1:\(ports[index]);
                    server_name social.test;
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
        try FileManager.default.createDirectory(atPath: directory.file("tmp"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory.file("logs"), withIntermediateDirectories: true)
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-p", dir, "-c", directory.file("nginx.conf"), "-e", directory.file("logs/error.log")]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Ready when the first port accepts.
        for _ in 0..<200 {
            if HTTPProbe.status(port: ports[0], method: "GET", path: "/__herd_ready", timeoutSeconds: 2) != nil {
                return
            }
            guard process.isRunning else { break }
            usleep(25_000)
        }
        stop()
        throw FixtureError("nginx did not start: \((try? String(contentsOfFile: errorLog, encoding: .utf8)) ?? "")")
    }

    public func stop() {
        // nginx in single-process mode keeps the signal mask it inherited from a test thread, so it
        // may not see SIGTERM: it is a throwaway, kill it.
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        directory.remove()
    }

    deinit { stop() }
}
