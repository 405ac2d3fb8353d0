//! The health probes the gate runs after a wave: an HTTP GET that expects a
//! status, and a TCP connect.
//!
//! Probes never fail as Rust errors: every outcome, a refused connection or
//! a timeout included, is a [`CheckResult`] with `ok: false` and the reason in
//! `detail`, because a failing probe is the gate's evidence, not broken
//! machinery.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use events::CheckResult;

use crate::config::{CheckConfig, CheckKind};

/// The shared HTTP client, built on first use.
///
/// HTTP/1.1 only; TLS by rustls with the ring provider and the platform's
/// certificate verifier; redirects are not followed (the status of the URL
/// itself is checked); no proxy from the environment (a probe goes straight
/// to its target); no idle connections kept, so every probe opens a fresh
/// connection and sees what a new client would.
fn client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(build_client)
        .as_ref()
        .map_err(Clone::clone)
}

fn build_client() -> Result<reqwest::Client, String> {
    httpclient::build(
        httpclient::builder(concat!("patchflow-validate/", env!("CARGO_PKG_VERSION")))?
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .pool_max_idle_per_host(0),
    )
}

use httpclient::error_chain as chain;

fn elapsed_ms(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn timeout_ms(timeout: Duration) -> u128 {
    timeout.as_millis()
}

/// GETs `url` and passes when the response status equals `expect_status`.
///
/// The response headers must arrive within `timeout` (the body is not
/// read). `detail` holds `status 200 OK`, `status 503 Service Unavailable,
/// expected 200`, the request error with its causes, or `no response within
/// <n> ms`; `duration_ms` is the wall time of the probe. `kind` is `http`,
/// `target` is `url`.
pub async fn http_check(
    name: &str,
    url: &str,
    expect_status: u16,
    timeout: Duration,
) -> CheckResult {
    let start = Instant::now();
    let (ok, detail) = match client() {
        Err(e) => (false, e),
        Ok(client) => match tokio::time::timeout(timeout, client.get(url).send()).await {
            Err(_) => (
                false,
                format!("no response within {} ms", timeout_ms(timeout)),
            ),
            Ok(Err(e)) => (false, format!("request failed: {}", chain(&e))),
            Ok(Ok(response)) => {
                let status = response.status();
                if status.as_u16() == expect_status {
                    (true, format!("status {status}"))
                } else {
                    (false, format!("status {status}, expected {expect_status}"))
                }
            }
        },
    };
    CheckResult {
        name: name.to_owned(),
        kind: CheckKind::Http.as_str().to_owned(),
        target: url.to_owned(),
        ok,
        detail,
        duration_ms: elapsed_ms(start),
    }
}

/// Opens a TCP connection to `addr` (`host:port`, resolved by the system)
/// and passes when it is accepted within `timeout`; the connection is closed
/// at once.
///
/// `detail` holds `connected to <ip:port>`, `connect failed: <error>` or `no
/// connection within <n> ms`. `kind` is `tcp`, `target` is `addr`.
pub async fn tcp_check(name: &str, addr: &str, timeout: Duration) -> CheckResult {
    let start = Instant::now();
    let (ok, detail) =
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
            Err(_) => (
                false,
                format!("no connection within {} ms", timeout_ms(timeout)),
            ),
            Ok(Err(e)) => (false, format!("connect failed: {e}")),
            Ok(Ok(stream)) => match stream.peer_addr() {
                Ok(peer) => (true, format!("connected to {peer}")),
                Err(_) => (true, format!("connected to {addr}")),
            },
        };
    CheckResult {
        name: name.to_owned(),
        kind: CheckKind::Tcp.as_str().to_owned(),
        target: addr.to_owned(),
        ok,
        detail,
        duration_ms: elapsed_ms(start),
    }
}

/// Runs one configured check. A check without its target (an unvalidated
/// configuration) fails with a `detail` saying so, without probing.
pub async fn run_check(check: &CheckConfig) -> CheckResult {
    match check.kind {
        CheckKind::Http => match &check.url {
            Some(url) => http_check(&check.name, url, check.expect_status, check.timeout()).await,
            None => misconfigured(check, "url"),
        },
        CheckKind::Tcp => match &check.addr {
            Some(addr) => tcp_check(&check.name, addr, check.timeout()).await,
            None => misconfigured(check, "addr"),
        },
    }
}

fn misconfigured(check: &CheckConfig, field: &str) -> CheckResult {
    CheckResult {
        name: check.name.clone(),
        kind: check.kind.as_str().to_owned(),
        target: String::new(),
        ok: false,
        detail: format!("misconfigured: a {} check needs `{field}`", check.kind),
        duration_ms: 0,
    }
}

/// Runs `checks` concurrently and returns their results in the given order
/// (use [`crate::config::Config::checks_for_ring`] to pick a ring's checks).
/// The whole run takes about as long as the slowest probe, at most its
/// timeout.
pub async fn run_checks<'a>(checks: impl IntoIterator<Item = &'a CheckConfig>) -> Vec<CheckResult> {
    futures::future::join_all(checks.into_iter().map(run_check)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A tiny HTTP/1.1 responder on 127.0.0.1: `/ok` → 200, `/down` → 503,
    /// `/moved` → 301, `/hang` → accepts and never answers. Returns its base
    /// URL.
    async fn serve() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let request = String::from_utf8_lossy(&buf);
                    let status = if request.starts_with("GET /ok ") {
                        "200 OK"
                    } else if request.starts_with("GET /down ") {
                        "503 Service Unavailable"
                    } else if request.starts_with("GET /moved ") {
                        "301 Moved Permanently\r\nLocation: /ok"
                    } else if request.starts_with("GET /hang ") {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    } else {
                        "404 Not Found"
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    let _ = conn.write_all(response.as_bytes()).await;
                });
            }
        });
        format!("http://{addr}")
    }

    /// A port on 127.0.0.1 nothing listens on.
    async fn closed_port() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        addr.to_string()
    }

    const T: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn http_passes_on_the_expected_status_only() {
        let base = serve().await;
        let url = format!("{base}/ok");
        let r = http_check("web", &url, 200, T).await;
        assert_eq!(
            (r.ok, r.detail.as_str(), r.kind.as_str(), r.name.as_str()),
            (true, "status 200 OK", "http", "web")
        );
        assert_eq!(r.target, url);
        assert!(r.duration_ms < 5000, "{}", r.duration_ms);

        let r = http_check("web", &format!("{base}/down"), 200, T).await;
        assert!(!r.ok);
        assert_eq!(r.detail, "status 503 Service Unavailable, expected 200");

        // A maintenance page that is expected to answer 503 passes.
        let r = http_check("web", &format!("{base}/down"), 503, T).await;
        assert!(r.ok, "{}", r.detail);

        // Redirects are not followed.
        let r = http_check("web", &format!("{base}/moved"), 200, T).await;
        assert_eq!(
            (r.ok, r.detail.as_str()),
            (false, "status 301 Moved Permanently, expected 200")
        );
    }

    #[tokio::test]
    async fn http_reports_connection_errors_and_timeouts() {
        let url = format!("http://{}/ok", closed_port().await);
        let r = http_check("web", &url, 200, T).await;
        assert!(!r.ok);
        assert!(r.detail.starts_with("request failed: "), "{}", r.detail);
        assert!(r.detail.contains("refused"), "{}", r.detail);

        let base = serve().await;
        let r = http_check(
            "web",
            &format!("{base}/hang"),
            200,
            Duration::from_millis(200),
        )
        .await;
        assert_eq!(
            (r.ok, r.detail.as_str()),
            (false, "no response within 200 ms")
        );
        assert!((200..5000).contains(&r.duration_ms), "{}", r.duration_ms);
    }

    #[tokio::test]
    async fn https_goes_through_rustls_and_reports_a_handshake_failure() {
        // A plain-text server answering a TLS client: the handshake must fail
        // as evidence (no panic over a missing crypto provider).
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                    .await;
            }
        });
        let r = http_check("tls", &format!("https://{addr}/ok"), 200, T).await;
        assert!(!r.ok);
        assert!(r.detail.starts_with("request failed: "), "{}", r.detail);
        assert!(!r.detail.contains("build http client"), "{}", r.detail);
    }

    #[tokio::test]
    async fn tcp_passes_when_a_listener_accepts() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let r = tcp_check("db", &addr, T).await;
        assert_eq!(
            (r.ok, r.kind.as_str(), r.target.as_str()),
            (true, "tcp", addr.as_str())
        );
        assert_eq!(r.detail, format!("connected to {addr}"));

        let closed = closed_port().await;
        let r = tcp_check("db", &closed, T).await;
        assert!(!r.ok);
        assert!(r.detail.starts_with("connect failed: "), "{}", r.detail);
        assert!(r.detail.contains("refused"), "{}", r.detail);
    }

    #[tokio::test]
    async fn run_checks_keeps_the_configured_order() {
        let base = serve().await;
        let closed = closed_port().await;
        let http = |name: &str, path: &str| CheckConfig {
            name: name.into(),
            kind: CheckKind::Http,
            url: Some(format!("{base}{path}")),
            addr: None,
            expect_status: 200,
            timeout_ms: 2000,
            rings: vec![],
        };
        let checks = [
            http("down", "/down"),
            http("up", "/ok"),
            CheckConfig {
                name: "db".into(),
                kind: CheckKind::Tcp,
                url: None,
                addr: Some(closed),
                expect_status: 200,
                timeout_ms: 2000,
                rings: vec![],
            },
            CheckConfig {
                name: "broken".into(),
                kind: CheckKind::Tcp,
                url: None,
                addr: None,
                expect_status: 200,
                timeout_ms: 2000,
                rings: vec![],
            },
        ];
        let results = run_checks(&checks).await;
        let got: Vec<(&str, bool)> = results.iter().map(|r| (r.name.as_str(), r.ok)).collect();
        assert_eq!(
            got,
            [
                ("down", false),
                ("up", true),
                ("db", false),
                ("broken", false)
            ]
        );
        assert_eq!(
            results.last().map(|r| r.detail.as_str()),
            Some("misconfigured: a tcp check needs `addr`")
        );
    }
}
