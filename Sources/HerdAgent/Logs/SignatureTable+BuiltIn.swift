/// The built-in signature table, from the error classes and nginx messages real Mastodon hosts log
/// (shared/MASTODON.md). Operators' files are appended after it (see `SignatureTable` for the format).
extension SignatureTable {
    public static let builtInText = """
        # CATEGORY<TAB>SIGNATURE<TAB>PATTERN — the first match in table order wins: causes before their
        # symptoms, specific before general. Categories: Agent/log-categories.md.
        #
        # The server's connection limit before the client's pool, and both before plain connection failures.
        db_connection_limit\ttoo many clients\ttoo many clients already
        db_connection_limit\treserved connection slots\tremaining connection slots are reserved
        db_connection_limit\tPgBouncer no more connections\tno more connections allowed
        db_pool_exhausted\tActiveRecord::ConnectionTimeoutError\tActiveRecord::ConnectionTimeoutError
        db_pool_exhausted\tActiveRecord::ExclusiveConnectionTimeoutError\tActiveRecord::ExclusiveConnectionTimeoutError
        db_pool_exhausted\tcould not obtain a connection from the pool\tcould not obtain a connection from the pool
        db_pool_exhausted\tall pooled connections were in use\tall pooled connections were in use
        db_pool_exhausted\tnode-postgres pool timeout\ttimeout exceeded when trying to connect
        # errno conditions in any component's words, before the component that reports them.
        disk_full\tPG::DiskFull\tPG::DiskFull
        disk_full\tENOSPC\tENOSPC
        disk_full\tNo space left on device\tNo space left on device
        disk_full\tcould not extend file\tcould not extend file
        disk_full\tEDQUOT\tDisk quota exceeded
        disk_full\tBundler no space on device\tNoSpaceOnDevice
        disk_full\tinsufficient space\tinsufficient space
        permission_denied\tErrno::EACCES\tErrno::EACCES
        permission_denied\tEACCES\tEACCES
        permission_denied\tnginx permission denied\t(13: Permission denied)
        permission_denied\tPermission denied @\tPermission denied @
        permission_denied\tRead-only file system\tRead-only file system
        permission_denied\tEROFS\tEROFS
        permission_denied\tPostgreSQL permission denied for\tpermission denied for
        permission_denied\tOperation not permitted\tOperation not permitted
        permission_denied\tPermission denied\tPermission denied
        # Resource limits and data corruption, in any component's words: before the 502s they cause.
        other\tToo many open files\tToo many open files
        other\tEMFILE\tEMFILE
        other\tnginx worker_connections\tworker_connections are not enough
        other\tPG::DataCorrupted\tPG::DataCorrupted
        other\tPostgreSQL could not read block\tcould not read block
        # Encoding and schema errors that PostgreSQL raises, before the database's plain connection errors.
        encoding_error\tPG::CharacterNotInRepertoire\tPG::CharacterNotInRepertoire
        encoding_error\tinvalid byte sequence for encoding\tinvalid byte sequence for encoding
        encoding_error\tincompatible character encodings\tincompatible character encodings
        encoding_error\tEncoding::*Error\tEncoding::*Error
        encoding_error\tinvalid byte sequence in UTF-8\tinvalid byte sequence in UTF-8
        encoding_error\tSQL_ASCII\tSQL_ASCII
        encoding_error\tencoding does not match locale\tdoes not match locale
        db_schema\tPG::UndefinedTable\tPG::UndefinedTable
        db_schema\tPG::UndefinedColumn\tPG::UndefinedColumn
        db_schema\tPG::UndefinedFunction\tPG::UndefinedFunction
        db_schema\tActiveRecord::PendingMigrationError\tActiveRecord::PendingMigrationError
        db_schema\tMigrations are pending\tMigrations are pending
        db_schema\tmigrations canceled\tall later migrations canceled
        db_schema\tPG::DuplicateTable\tPG::DuplicateTable
        db_schema\tPG::DuplicateColumn\tPG::DuplicateColumn
        db_schema\tPG::InvalidTableDefinition\tPG::InvalidTableDefinition
        db_schema\tPG::DuplicateObject\tPG::DuplicateObject
        db_schema\tPG::UndefinedObject\tPG::UndefinedObject
        db_schema\tPG::DependentObjectsStillExist\tPG::DependentObjectsStillExist
        db_schema\tcould not create unique index\tcould not create unique index
        db_schema\trelation does not exist\trelation "*" does not exist
        db_schema\tcolumn does not exist\tcolumn *does not exist
        db_schema\tActiveRecord::UnknownAttributeError\tActiveRecord::UnknownAttributeError
        db_connection\tPG::ConnectionBad\tPG::ConnectionBad
        db_connection\tActiveRecord::ConnectionNotEstablished\tActiveRecord::ConnectionNotEstablished
        db_connection\tActiveRecord::DatabaseConnectionError\tActiveRecord::DatabaseConnectionError
        db_connection\tActiveRecord::NoDatabaseError\tActiveRecord::NoDatabaseError
        db_connection\tPG::UnableToSend\tPG::UnableToSend
        db_connection\tPG::ConnectionDoesNotExist\tPG::ConnectionDoesNotExist
        db_connection\tserver closed the connection unexpectedly\tserver closed the connection unexpectedly
        db_connection\tcould not connect to server\tcould not connect to server
        db_connection\tconnection to server failed\tconnection to server *failed
        db_connection\tpassword authentication failed\tpassword authentication failed
        db_connection\tno pg_hba.conf entry\tno pg_hba.conf entry
        db_connection\tPeer authentication failed\tPeer authentication failed
        db_connection\tIdent authentication failed\tIdent authentication failed
        db_connection\tSASL authentication failed\tSASL authentication failed
        db_connection\tdatabase does not exist\tdatabase "*" does not exist
        db_connection\trole does not exist\trole "*" does not exist
        db_connection\tcould not translate host name\tcould not translate host name
        db_connection\tthe database system is starting up\tthe database system is starting up
        db_connection\tthe database system is shutting down\tthe database system is shutting down
        db_connection\tthe database system is in recovery mode\tthe database system is in recovery mode
        db_connection\tterminating connection due to administrator command\tterminating connection due to administrator command
        db_connection\tPostgreSQL socket\t.s.PGSQL.
        db_connection\tconnection refused on 5432\tConnection refused*5432
        db_connection\tECONNREFUSED on 5432\tECONNREFUSED*:5432
        db_connection\tPgBouncer server login failed\tserver login failed
        # Redis, whoever reports it (Rails, Sidekiq's fetcher, node): before Sidekiq's own complaints.
        redis_down\tRedis::CannotConnectError\tRedis::CannotConnectError
        redis_down\tRedisClient::CannotConnectError\tRedisClient::CannotConnectError
        redis_down\tRedis::TimeoutError\tRedis::TimeoutError
        redis_down\tRedisClient::ReadTimeoutError\tRedisClient::ReadTimeoutError
        redis_down\tRedisClient::ConnectionError\tRedisClient::ConnectionError
        redis_down\tRedis::ConnectionError\tRedis::ConnectionError
        redis_down\tRedis::CommandError\tRedis::CommandError
        redis_down\tRedisClient::CommandError\tRedisClient::CommandError
        redis_down\tError connecting to Redis\tError connecting to Redis
        redis_down\tioredis error\t[ioredis]
        redis_down\tnode-redis client error\tRedis Client Error
        redis_down\tRedis MISCONF\tMISCONF
        redis_down\tRedis OOM command not allowed\tOOM command not allowed
        redis_down\tRedis READONLY replica\tREADONLY You can't write against a read only replica
        redis_down\tRedis LOADING\tLOADING Redis is loading
        redis_down\tRedis NOAUTH\tNOAUTH
        redis_down\tRedis WRONGPASS\tWRONGPASS
        redis_down\tRedis cannot save (fork)\tCan't save in background
        redis_down\tRedis background save failed\tBackground saving error
        redis_down\tconnection refused on 6379\tConnection refused*6379
        redis_down\tECONNREFUSED on 6379\tECONNREFUSED*:6379
        redis_down\tRedis socket\tredis.sock
        redis_down\tRedis connection lost\tConnection to Redis lost
        # Elasticsearch/OpenSearch and SMTP: their libraries and their ports.
        search_engine\tElasticsearch transport error\tElasticsearch::Transport::Transport::
        search_engine\tElastic transport error\tElastic::Transport::Transport::
        search_engine\tChewy error\tChewy::
        search_engine\tElasticsearch unavailable\tElasticsearch::UnsupportedProductError
        search_engine\tindex read-only\tindex read-only
        search_engine\tcluster_block_exception\tcluster_block_exception
        search_engine\tElasticsearch in a backtrace\telasticsearch
        search_engine\tChewy in a command or backtrace\tchewy
        search_engine\ttootctl search\ttootctl search
        search_engine\tsearch engine port 9200\tport 9200
        mail_delivery\tNet::SMTPAuthenticationError\tNet::SMTPAuthenticationError
        mail_delivery\tNet::SMTPFatalError\tNet::SMTPFatalError
        mail_delivery\tNet::SMTPServerBusy\tNet::SMTPServerBusy
        mail_delivery\tNet::SMTPSyntaxError\tNet::SMTPSyntaxError
        mail_delivery\tNet::SMTPUnknownError\tNet::SMTPUnknownError
        mail_delivery\tNet::SMTP in a backtrace\tnet/smtp.rb
        mail_delivery\tmailer job failed\tError performing ActionMailer
        mail_delivery\tSMTP error\tSMTP
        mail_delivery\tmailer timeout\tActionMailer*Net::*Timeout
        mail_delivery\tconnection refused on 587\tConnection refused*587
        mail_delivery\tconnection refused on 465\tConnection refused*465
        mail_delivery\tconnection refused on 25\tConnection refused*port 25
        # Object storage before media: an upload that fails on S3 also mentions Paperclip.
        object_storage\tStorage server error\tStorage server error
        object_storage\tAws::S3::Errors\tAws::S3::Errors::
        object_storage\tAws::Errors\tAws::Errors::
        object_storage\tAws::Sigv4\tAws::Sigv4::
        object_storage\tSeahorse::Client::NetworkingError\tSeahorse::Client::NetworkingError
        object_storage\tFog::Storage error\tFog::
        object_storage\tSignatureDoesNotMatch\tSignatureDoesNotMatch
        object_storage\tNoSuchBucket\tNoSuchBucket
        object_storage\tInvalidAccessKeyId\tInvalidAccessKeyId
        object_storage\tS3 x-amz header\tx-amz-
        media_processing\tPaperclip::Errors::CommandNotFoundError\tPaperclip::Errors::CommandNotFoundError
        media_processing\tffmpeg not runnable\tCould not run the `ffmpeg` command
        media_processing\tPaperclip::Error\tPaperclip::Error
        media_processing\tPaperclip not identified\tnot recognized by the 'identify' command
        media_processing\tVips::Error\tVips::Error
        media_processing\tlibvips error\tVipsForeign
        media_processing\tImageMagick error\tImageMagick
        media_processing\tffmpeg error\tffmpeg
        media_processing\tffprobe error\tffprobe
        media_processing\tImageMagick security policy\tnot allowed by the security policy
        media_processing\tImageMagick convert\tconvert-im6
        media_processing\tunsupported file type\tunsupported file type
        media_processing\tTerrapin::CommandNotFoundError\tTerrapin::CommandNotFoundError
        media_processing\tTerrapin::ExitStatusError\tTerrapin::ExitStatusError
        media_processing\tMIME type not allowed\tValidation failed: File content type
        # Proxies (nginx, Apache): the 502 family, then the 504 family (upstream_unreachable vs upstream_timeout).
        upstream_unreachable\tupstream connection refused\t(111: Connection refused) while connecting to upstream
        upstream_unreachable\tupstream socket missing\tfailed (2: No such file or directory) while connecting to upstream
        upstream_unreachable\tupstream prematurely closed connection\tupstream prematurely closed connection
        upstream_unreachable\tno live upstreams\tno live upstreams
        upstream_unreachable\tupstream connection reset\trecv() failed (104: Connection reset by peer)
        upstream_unreachable\tupstream sent invalid header\tupstream sent invalid header
        upstream_unreachable\tupstream unreachable\twhile connecting to upstream
        upstream_unreachable\tApache proxy backend refused\tfailed to make connection to backend
        upstream_unreachable\tApache proxy connect failed\t(111)Connection refused
        upstream_unreachable\tconnection refused on 3000\tConnection refused*:3000
        upstream_unreachable\tconnection refused on 4000\tConnection refused*:4000
        upstream_timeout\tupstream timed out\tupstream timed out
        oom_kill\tkernel OOM killed process\tOut of memory: Killed process
        oom_kill\tkernel OOM kill process (old kernels)\tOut of memory: Kill process
        oom_kill\tmemory cgroup out of memory\tMemory cgroup out of memory
        oom_kill\toom-kill constraint\toom-kill:constraint=
        oom_kill\tinvoked oom-killer\tinvoked oom-killer
        oom_kill\tsystemd unit killed by the OOM killer\tkilled by the OOM killer
        oom_kill\tsystemd result oom-kill\tFailed with result 'oom-kill'
        oom_kill\tOOMKilled\tOOMKilled
        oom_kill\tNoMemoryError\tNoMemoryError
        oom_kill\tfailed to allocate memory\tfailed to allocate memory
        oom_kill\tJavaScript heap out of memory\tJavaScript heap out of memory
        oom_kill\tprocess out of memory\tprocess out of memory
        oom_kill\tENOMEM\tENOMEM
        oom_kill\tCannot allocate memory\tCannot allocate memory
        # TLS of this host's own services and certificates (a missing certificate before nginx's [emerg]).
        tls_error\tOpenSSL::SSL::SSLError\tOpenSSL::SSL::SSLError
        tls_error\tcertificate verify failed\tcertificate verify failed
        tls_error\tSSL handshake failed\tSSL_do_handshake() failed
        tls_error\tcertificate has expired\tcertificate has expired
        tls_error\tcannot load certificate\tcannot load certificate
        tls_error\tSSL routines\tSSL routines
        tls_error\tOpenSSL error relayed\tSSL: error:
        # Configuration: Mastodon's and the components'.
        config_error\tActiveRecord::Encryption configuration\tActiveRecord::Encryption::Errors::Configuration
        config_error\tActive Record encryption credential missing\tMissing Active Record encryption credential
        config_error\tActive Record encryption variables\tACTIVE_RECORD_ENCRYPTION_
        config_error\tYAML configuration broken\tPsych::SyntaxError
        config_error\tnode module missing\tCannot find module
        config_error\tActiveRecord::Encryption::Errors::Decryption\tActiveRecord::Encryption::Errors::Decryption
        config_error\tActiveSupport::MessageEncryptor::InvalidMessage\tActiveSupport::MessageEncryptor::InvalidMessage
        config_error\tActiveSupport::MessageVerifier::InvalidSignature\tActiveSupport::MessageVerifier::InvalidSignature
        config_error\tsecret_key_base missing\tsecret_key_base
        config_error\tLOCAL_DOMAIN\tLOCAL_DOMAIN
        config_error\tOTP_SECRET\tOTP_SECRET
        config_error\tVAPID key\tVAPID
        config_error\tActiveRecord::AdapterNotSpecified\tActiveRecord::AdapterNotSpecified
        config_error\tAddress already in use\tAddress already in use
        config_error\tEADDRINUSE\tEADDRINUSE
        config_error\tnginx configuration refused\t [emerg]
        config_error\tnginx configuration test failed\tconfiguration file * test failed
        config_error\tRails credentials\tActiveSupport::EncryptedFile::MissingKeyError
        config_error\tBundler missing gems\tBundler::GemNotFound
        config_error\tBundler could not find gems\tCould not find * in locally installed gems
        config_error\tRuby version mismatch\tYour Ruby version is
        config_error\tNode version mismatch\tThe engine "node" is incompatible
        # systemd or a supervisor failing a unit (the program's own error, above, wins).
        service_failed\tsystemd failed at step\tFailed at step
        service_failed\tsystemd start limit\tStart request repeated too quickly
        service_failed\tsystemd start-limit-hit\tstart-limit-hit
        service_failed\tsystemd status 217/USER\tstatus=217/USER
        service_failed\tsystemd status 203/EXEC\tstatus=203/EXEC
        service_failed\tsystemd status 200/CHDIR\tstatus=200/CHDIR
        service_failed\tsystemd failed to start\tFailed to start
        service_failed\tsystemd failed with result\tFailed with result
        service_failed\tsystemd main process exited\tMain process exited, code=
        service_failed\tsystemd unit entered failed state\tentered failed state
        service_failed\tsystemd stop timed out\tsigterm timed out
        service_failed\tsystemd executable missing\tFailed to locate executable
        service_failed\tcontainer crashed\thas crashed
        # Sidekiq itself, apart from Redis (above) and from its jobs' own errors (below).
        sidekiq_backlog_or_retry\tSidekiq Redis extremely poor\tYour Redis network connection is performing extremely poorly
        sidekiq_backlog_or_retry\tSidekiq Redis poor\tappears to be performing poorly
        sidekiq_backlog_or_retry\tSidekiq error fetching job\tError fetching job:
        sidekiq_backlog_or_retry\tSidekiq job moved to dead set\tAdding dead
        sidekiq_backlog_or_retry\tSidekiq::Shutdown\tSidekiq::Shutdown
        sidekiq_backlog_or_retry\tSidekiq jobs killed at shutdown\tPausing to allow jobs to finish
        sidekiq_backlog_or_retry\tSidekiq busy threads killed at shutdown\tTerminating * busy
        sidekiq_backlog_or_retry\tSidekiq work still in progress at shutdown\tWork still in progress
        # The application's own code: an exception class that names no infrastructure (before the
        # network errors a remote server causes, which such an exception may merely mention).
        app_error\tNoMethodError\tNoMethodError
        app_error\tNameError\tNameError
        app_error\tArgumentError\tArgumentError
        app_error\tTypeError\tTypeError
        app_error\tReferenceError\tReferenceError
        app_error\tSyntaxError\tSyntaxError
        app_error\tZeroDivisionError\tZeroDivisionError
        app_error\tFrozenError\tFrozenError
        app_error\tKeyError\tKeyError
        app_error\tRuntimeError\tRuntimeError
        app_error\tActionView::Template::Error\tActionView::Template::Error
        app_error\tActiveRecord::RecordInvalid\tActiveRecord::RecordInvalid
        app_error\tActiveRecord::RecordNotUnique\tActiveRecord::RecordNotUnique
        app_error\tPG::UniqueViolation\tPG::UniqueViolation
        app_error\tPG::ForeignKeyViolation\tPG::ForeignKeyViolation
        app_error\tPG::NotNullViolation\tPG::NotNullViolation
        app_error\tActiveRecord::StatementInvalid\tActiveRecord::StatementInvalid
        app_error\tundefined method\tundefined method
        app_error\tuninitialized constant\tuninitialized constant
        app_error\tunhandled promise rejection\tUnhandled*rejection
        app_error\tnode uncaught exception\tuncaughtException
        # Other servers failing Mastodon's requests: routine on any federated server.
        federation_remote_failure\tHTTP::TimeoutError\tHTTP::TimeoutError
        federation_remote_failure\tHTTP::ConnectionError\tHTTP::ConnectionError
        federation_remote_failure\tHTTP::Redirector::TooManyRedirectsError\tHTTP::Redirector::TooManyRedirectsError
        federation_remote_failure\tMastodon::UnexpectedResponseError\tMastodon::UnexpectedResponseError
        federation_remote_failure\tMastodon::HostValidationError\tMastodon::HostValidationError
        federation_remote_failure\tMastodon::PrivateNetworkAddressError\tMastodon::PrivateNetworkAddressError
        federation_remote_failure\tMastodon::RaceConditionError\tMastodon::RaceConditionError
        federation_remote_failure\tStoplight::Error::RedLight\tStoplight::Error::RedLight
        federation_remote_failure\tOpenURI::HTTPError\tOpenURI::HTTPError
        federation_remote_failure\tgetaddrinfo failure\tgetaddrinfo
        federation_remote_failure\tNet::OpenTimeout\tNet::OpenTimeout
        federation_remote_failure\tNet::ReadTimeout\tNet::ReadTimeout
        # A job that failed for a reason none of the above names.
        app_error\tSidekiq job raised exception\tJob raised exception
        app_error\tSidekiq job error class\t"error_class":"
        # Recognised trouble outside every category above.
        other\tkernel I/O error\tI/O error
        other\tEXT4-fs error\tEXT4-fs error
        other\tsegfault\tsegfault at
        other\tSegmentation fault\tSegmentation fault
        # Severity markers (category unclassified_error): an error line no signature above names. Kept after
        # every other signature, an operator's too (see SignatureTable).
        unclassified_error\tERROR\tERROR
        unclassified_error\tFATAL\tFATAL
        unclassified_error\tPANIC:\tPANIC:
        unclassified_error\tnginx [error]\t [error]
        unclassified_error\tnginx [crit]\t [crit]
        unclassified_error\tnginx [alert]\t [alert]
        unclassified_error\taccess log 5xx\tHTTP/*" 50
        unclassified_error\tyarn error\terror Command failed
        unclassified_error\tnpm ERR!\tERR!
        unclassified_error\tpino level 50\t"level":50
        unclassified_error\tpino level 60\t"level":60
        unclassified_error\tSidekiq JSON ERROR\t"lvl":"ERROR"
        unclassified_error\tlogfmt level=error\tlevel=error
        unclassified_error\tdmesg err\t:err   :
        unclassified_error\tdmesg crit\t:crit  :
        unclassified_error\tdmesg alert\t:alert :
        unclassified_error\tdmesg emerg\t:emerg :
        unclassified_error\tError: line\tError:
        unclassified_error\texception header\tException:
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
