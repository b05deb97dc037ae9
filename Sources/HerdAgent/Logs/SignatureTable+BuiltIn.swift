/// The built-in signature table, from the error classes and nginx messages real Mastodon hosts log
/// (shared/MASTODON.md). Operators' files are appended after it (see `SignatureTable` for the format).
extension SignatureTable {
    public static let builtInText = """
        # CATEGORY<TAB>SIGNATURE<TAB>PATTERN — the first match in table order wins.
        # Pool exhaustion before plain connection failures: a pool timeout mentions connections too.
        db_pool_exhausted\tActiveRecord::ConnectionTimeoutError\tActiveRecord::ConnectionTimeoutError
        db_pool_exhausted\tall pooled connections were in use\tall pooled connections were in use
        db_pool_exhausted\ttoo many clients\tsorry, too many clients already
        db_pool_exhausted\treserved connection slots\tremaining connection slots are reserved
        db_connection\tPG::ConnectionBad\tPG::ConnectionBad
        db_connection\tActiveRecord::ConnectionNotEstablished\tActiveRecord::ConnectionNotEstablished
        db_connection\tPG::UnableToSend\tPG::UnableToSend
        db_connection\tserver closed the connection unexpectedly\tserver closed the connection unexpectedly
        db_connection\tcould not connect to server\tcould not connect to server
        db_connection\tconnection refused on 5432\tConnection refused*5432
        # Disk and encoding errors raised by PostgreSQL, before anything more general.
        disk_full\tPG::DiskFull\tPG::DiskFull
        disk_full\tErrno::ENOSPC\tErrno::ENOSPC
        disk_full\tNo space left on device\tNo space left on device
        disk_full\tcould not extend file\tcould not extend file
        encoding_error\tPG::CharacterNotInRepertoire\tPG::CharacterNotInRepertoire
        encoding_error\tinvalid byte sequence for encoding\tinvalid byte sequence for encoding
        encoding_error\tincompatible character encodings\tincompatible character encodings
        encoding_error\tEncoding::*Error\tEncoding::*Error
        redis_down\tRedis::CannotConnectError\tRedis::CannotConnectError
        redis_down\tRedisClient::CannotConnectError\tRedisClient::CannotConnectError
        redis_down\tECONNREFUSED on 6379\tECONNREFUSED*:6379
        redis_down\tRedis MISCONF\tMISCONF
        permission_denied\tErrno::EACCES\tErrno::EACCES
        permission_denied\tPermission denied @ dir_s_mkdir\tPermission denied @ dir_s_mkdir
        permission_denied\tRead-only file system\tRead-only file system
        permission_denied\tnginx open() permission denied\topen() *(13: Permission denied)
        # Object storage before media: an upload that fails on S3 also mentions Paperclip.
        object_storage\tStorage server error\tStorage server error
        object_storage\tAws::S3::Errors\tAws::S3::Errors::
        object_storage\tSeahorse::Client::NetworkingError\tSeahorse::Client::NetworkingError
        media_processing\tPaperclip::Errors::CommandNotFoundError\tPaperclip::Errors::CommandNotFoundError
        media_processing\tffmpeg not runnable\tCould not run the `ffmpeg` command
        media_processing\tPaperclip::Error\tPaperclip::Error
        media_processing\tVips::Error\tVips::Error
        # nginx: the 502 family, then the 504 family (Protocol: upstream_unreachable vs upstream_timeout).
        upstream_unreachable\tupstream connection refused\tconnect() failed (111: Connection refused) while connecting to upstream
        upstream_unreachable\tupstream socket missing\tfailed (2: No such file or directory) while connecting to upstream
        upstream_unreachable\tupstream prematurely closed connection\tupstream prematurely closed connection
        upstream_unreachable\tno live upstreams\tno live upstreams
        upstream_unreachable\tupstream connection reset\trecv() failed (104: Connection reset by peer)
        upstream_timeout\tupstream timed out\tupstream timed out
        oom_kill\tkernel OOM killed process\tOut of memory: Killed process
        oom_kill\tkernel OOM kill process (old kernels)\tOut of memory: Kill process
        oom_kill\tmemory cgroup out of memory\tMemory cgroup out of memory
        oom_kill\toom-kill constraint\toom-kill:constraint=
        oom_kill\tsystemd unit killed by the OOM killer\tkilled by the OOM killer
        oom_kill\tsystemd result oom-kill\tFailed with result 'oom-kill'
        sidekiq_backlog_or_retry\tSidekiq Redis extremely poor\tYour Redis network connection is performing extremely poorly
        sidekiq_backlog_or_retry\tSidekiq Redis poor\tappears to be performing poorly
        sidekiq_backlog_or_retry\tSidekiq error fetching job\tError fetching job:
        sidekiq_backlog_or_retry\tSidekiq job moved to dead set\tAdding dead
        tls_error\tOpenSSL::SSL::SSLError\tOpenSSL::SSL::SSLError
        tls_error\tcertificate verify failed\tcertificate verify failed
        federation_remote_failure\tHTTP::TimeoutError\tHTTP::TimeoutError
        federation_remote_failure\tHTTP::ConnectionError\tHTTP::ConnectionError
        federation_remote_failure\tMastodon::UnexpectedResponseError\tMastodon::UnexpectedResponseError
        federation_remote_failure\tStoplight::Error::RedLight\tStoplight::Error::RedLight
        """

    public static let builtIn: SignatureTable = {
        do {
            return try SignatureTable.parse(builtInText, source: "built-in")
        } catch {
            preconditionFailure("the built-in signature table does not parse: \(error)")
        }
    }()
}

extension SignatureTable {
    /// The built-in table with operators' tables (`logs.signature_files`, `--signatures`) appended, in
    /// order. A file larger than 4 MiB, not UTF-8 or not parsing is refused whole.
    public static func builtIn(appending files: [String]) throws -> SignatureTable {
        var table = SignatureTable.builtIn
        for path in files {
            guard let text = String(validating: try HostFilesystem().read(path, maxBytes: 4 << 20), as: UTF8.self)
            else {
                throw HostError(.invalid, "\(path): not UTF-8")
            }
            table = table.appending(try SignatureTable.parse(text, source: path))
        }
        return table
    }
}
