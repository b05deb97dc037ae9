import Foundation

/// A real TCP load balancer: Debian's nginx with its `stream` module (`libnginx-mod-stream`), on a
/// loopback port, spreading connections round-robin over `upstreams` and passing the bytes through —
/// TLS included, so the controller behind it sees each agent's own client certificate. An upstream that
/// refuses a connection is skipped for the next (`proxy_next_upstream`), as in front of replicas.
public final class TCPBalancer: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let port: Int
    private let process: Process

    public static let streamModule = "/usr/lib/nginx/modules/ngx_stream_module.so"

    public init(port: Int? = nil, upstreams: [Int]) throws {
        guard let executable = NginxServer.executable else {
            throw FixtureError("nginx is not installed (scripts/test.sh installs it)")
        }
        guard FileManager.default.fileExists(atPath: Self.streamModule) else {
            throw FixtureError("nginx's stream module is not installed (scripts/test.sh installs libnginx-mod-stream)")
        }
        directory = try TemporaryDirectory("herd-balancer")
        self.port = try port ?? FreePort.next()
        let dir = directory.path
        try FileManager.default.createDirectory(atPath: directory.file("logs"), withIntermediateDirectories: true)
        try directory.write(
            "nginx.conf",
            """
            load_module \(Self.streamModule);
            master_process off;
            daemon off;
            worker_processes 1;
            pid \(dir)/nginx.pid;
            error_log \(dir)/logs/error.log error;
            events { worker_connections 1024; }
            stream {
              upstream controllers {
            \(upstreams.map { "    server 127.0.0.1:\($0) max_fails=1 fail_timeout=2s;" }.joined(separator: "\n"))
              }
              server {
                listen 127.0.0.1:\(self.port);
                proxy_pass controllers;
                proxy_connect_timeout 1s;
                proxy_next_upstream on;
                proxy_timeout 10m;
              }
            }

            """)
        let port = self.port
        process = try NginxServer.launch(executable, in: directory) { HTTPProbe.accepts(port: port) }
    }

    public func stop() {
        NginxServer.halt(process)
        directory.remove()
    }

    deinit { stop() }
}
