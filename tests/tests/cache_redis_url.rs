//! Where the cache-warmer's Redis URL comes from and how it is used: an SSM SecureString
//! parameter on LocalStack (a plain String parameter is refused), and `rediss://` to a real
//! redis-server speaking TLS with a certificate the worker must verify.

use crate::cache_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use aws_sdk_ssm::types::ParameterType;
use serde_json::json;
use stoker_events::payload::cache::CacheWarmRequest;
use stoker_events::{Envelope, SOURCE_OPERATOR};
use stoker_it::http::TestServer;
use stoker_it::kit::KitEnv;
use stoker_it::{emulator, unique};

use cache_support::{LoggedWorker, PrivateRedis, free_port};

const BASE_VARS: [(&str, &str); 3] = [
    ("STOKER_CACHE_ALLOWED_HOSTS", "127.0.0.1"),
    ("STOKER_CACHE_ALLOW_PRIVATE_NETWORKS", "true"),
    ("STOKER_MAX_RECEIVE_COUNT", "1"),
];

async fn source() -> TestServer {
    TestServer::start(|_| (200, json!({ "menu": ["soup"] }).to_string())).await
}

/// Sends a one-key job; returns (event id, key).
async fn send_job(env: &KitEnv, src: &TestServer) -> (String, String) {
    let key = format!("{}:menu", env.name);
    let req: CacheWarmRequest = serde_json::from_value(json!({ "targets": [
        { "type": "redis", "key": key, "ttl_seconds": 60, "source": { "type": "http", "url": src.url("/menu") } } ]}))
    .expect("request");
    let event = Envelope::new(req, SOURCE_OPERATOR, "operator:test");
    env.send(&serde_json::to_string(&event).expect("json"), None)
        .await
        .expect("send");
    (event.id.to_string(), key)
}

/// `redis-cli` against a server; its output.
fn redis_cli(args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn the_redis_url_is_read_from_an_ssm_secure_string_parameter() {
    let sdk = emulator().await;
    let password = "ssmS3cretPw";
    let redis = PrivateRedis::with_password(password).await;
    let url = format!("redis://:{password}@127.0.0.1:{}/0", redis.port);
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let name = format!("/{}/redis-url", unique("cachessm"));
    ssm.put_parameter()
        .name(&name)
        .value(&url)
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .expect("PutParameter");
    let src = source().await;
    let env = KitEnv::create(&sdk, "cachessm", 1, false)
        .await
        .expect("resources");
    let mut vars = BASE_VARS.to_vec();
    vars.push(("STOKER_REDIS_URL_PARAMETER", &name));
    let mut worker = LoggedWorker::spawn(&env, &vars, &["STOKER_REDIS_URL"]);
    let (id, key) = send_job(&env, &src).await;
    let done = env
        .wait_outcome("cache-warmer", &id, Duration::from_secs(60))
        .await;
    assert_eq!(done["keys_warmed"], 1, "{done}");
    let port = redis.port.to_string();
    let got = redis_cli(&[
        "-p",
        &port,
        "--no-auth-warning",
        "-a",
        password,
        "GET",
        &key,
    ]);
    assert_eq!(got, r#"{"menu":["soup"]}"#);
    worker.stop();
    assert!(!worker.output().contains(password), "{}", worker.output());

    // A plain String parameter (readable by anyone who may read the parameter) is refused.
    let plain = format!("/{}/redis-url", unique("cachessm"));
    ssm.put_parameter()
        .name(&plain)
        .value(&url)
        .r#type(ParameterType::String)
        .send()
        .await
        .expect("PutParameter");
    let mut vars = BASE_VARS.to_vec();
    vars.push(("STOKER_REDIS_URL_PARAMETER", &plain));
    let mut refused = LoggedWorker::spawn(&env, &vars, &["STOKER_REDIS_URL"]);
    assert!(!refused.exit(Duration::from_secs(30)).await.success());
    let said = refused.output();
    assert!(said.contains("is a String, not a SecureString"), "{said}");
    assert!(!said.contains(password), "{said}");

    // A missing parameter stops the worker with the name and what to check.
    let missing = format!("/{}/nothing", unique("cachessm"));
    let mut vars = BASE_VARS.to_vec();
    vars.push(("STOKER_REDIS_URL_PARAMETER", &missing));
    let mut absent = LoggedWorker::spawn(&env, &vars, &["STOKER_REDIS_URL"]);
    assert!(!absent.exit(Duration::from_secs(30)).await.success());
    let said = absent.output();
    assert!(
        said.contains(&format!(
            "could not be read from the SSM parameter {missing}"
        )),
        "{said}"
    );
    for n in [&name, &plain] {
        let _ = ssm.delete_parameter().name(n).send().await;
    }
    env.delete().await;
}

/// A CA and a server certificate for 127.0.0.1 / localhost, made with openssl in `dir`.
fn certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl (the openssl package)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("san.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("san");
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=stoker test CA",
    ]);
    // Another CA, which did not sign the server's certificate.
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "other.key",
        "-out",
        "other.pem",
        "-days",
        "1",
        "-subj",
        "/CN=some other CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "1",
        "-extfile",
        "san.cnf",
    ]);
}

#[tokio::test]
async fn rediss_warms_over_tls_and_refuses_an_untrusted_certificate() {
    let sdk = emulator().await;
    let dir = std::env::temp_dir().join(unique("cachetls"));
    std::fs::create_dir_all(&dir).expect("dir");
    certificates(&dir);
    let file = |f: &str| dir.join(f).to_str().expect("utf-8 path").to_owned();
    let port = free_port();
    let password = "tlsS3cretPw";
    let redis = PrivateRedis::start(
        port,
        &[
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--tls-cert-file",
            &file("server.pem"),
            "--tls-key-file",
            &file("server.key"),
            "--tls-ca-cert-file",
            &file("ca.pem"),
            "--tls-auth-clients",
            "no",
            "--requirepass",
            password,
        ],
    )
    .await;
    let url = format!("rediss://:{password}@127.0.0.1:{}/0", redis.port);
    let src = source().await;
    let env = KitEnv::create(&sdk, "cachetls", 1, false)
        .await
        .expect("resources");

    // Trusting the test CA (rustls reads the system roots, which SSL_CERT_FILE replaces).
    let ca = file("ca.pem");
    let mut vars = BASE_VARS.to_vec();
    vars.extend([
        ("STOKER_REDIS_URL", url.as_str()),
        ("SSL_CERT_FILE", ca.as_str()),
    ]);
    let mut trusted = LoggedWorker::spawn(&env, &vars, &["STOKER_REDIS_URL_PARAMETER"]);
    let (id, key) = send_job(&env, &src).await;
    let done = env
        .wait_outcome("cache-warmer", &id, Duration::from_secs(60))
        .await;
    assert_eq!(done["keys_warmed"], 1, "{done}");
    assert!(
        done["hit_rate_after"].is_number() || done["redis_round_trips"] == 1,
        "{done}"
    );
    let p = port.to_string();
    let got = redis_cli(&[
        "--tls",
        "--cacert",
        &ca,
        "-p",
        &p,
        "--no-auth-warning",
        "-a",
        password,
        "GET",
        &key,
    ]);
    assert_eq!(got, r#"{"menu":["soup"]}"#, "written over TLS");
    trusted.stop();

    // Trusting another CA only: the connection is refused, the job fails; the password
    // stays out.
    let other = file("other.pem");
    let mut vars = BASE_VARS.to_vec();
    vars.extend([
        ("STOKER_REDIS_URL", url.as_str()),
        ("SSL_CERT_FILE", other.as_str()),
    ]);
    // A queue of its own: LocalStack hands a message to the long poll of a killed worker.
    let second = KitEnv::create(&sdk, "cachetls", 1, false)
        .await
        .expect("resources");
    let mut untrusted = LoggedWorker::spawn(
        &second,
        &vars,
        &["STOKER_REDIS_URL_PARAMETER", "SSL_CERT_DIR"],
    );
    send_job(&second, &src).await;
    let reason = &second.dead_reasons(1, Duration::from_secs(60)).await[0];
    assert!(
        reason.contains("Redis at 127.0.0.1:") && reason.contains("is unreachable"),
        "{reason}"
    );
    assert!(
        reason.to_lowercase().contains("certificate") || reason.contains("UnknownIssuer"),
        "{reason}"
    );
    assert!(!reason.contains(password) && !untrusted.output().contains(password));
    untrusted.stop();
    env.delete().await;
    second.delete().await;
    let _ = std::fs::remove_dir_all(&dir);
}
