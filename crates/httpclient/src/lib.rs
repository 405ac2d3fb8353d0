//! The one way patchflow builds HTTP(S) clients, shared by ingest's feed
//! poller, validate's health probes and deploy's saga webhooks.
//!
//! Every client speaks HTTP/1.1 (reqwest without HTTP/2) and TLS through
//! rustls on the `ring` provider (the one async-nats already links, so no
//! second crypto library is built) with the platform's certificate
//! verifier: the system trust store, as `curl` would use it. Callers add
//! their own redirect, proxy, pool and timeout settings to the builder.

use std::sync::Arc;

use rustls_platform_verifier::BuilderVerifierExt as _;

/// A client builder with patchflow's TLS set up and `user_agent`
/// (e.g. `patchflow-deploy/0.1.0`) as the `User-Agent` header.
///
/// # Errors
/// A message when the TLS protocol versions or the platform's certificate
/// verifier cannot be set up (e.g. no usable trust store).
pub fn builder(user_agent: &str) -> Result<reqwest::ClientBuilder, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls protocol versions: {e}"))?
        .with_platform_verifier()
        .map_err(|e| format!("platform certificate verifier: {e}"))?
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .user_agent(user_agent))
}

/// Builds `builder` into a client.
///
/// # Errors
/// `build http client: <causes>` when reqwest refuses the settings.
pub fn build(builder: reqwest::ClientBuilder) -> Result<reqwest::Client, String> {
    builder
        .build()
        .map_err(|e| format!("build http client: {}", error_chain(&e)))
}

/// `e` and its sources, joined by `: ` (a source whose text the message
/// already ends with is not repeated), e.g. `error sending request for url
/// (…): client error (Connect): tcp connect error: Connection refused (os
/// error 111)`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for E {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn error_chain_joins_sources_without_repeating_them() {
        let e = E(
            "request failed: refused",
            Some(Box::new(E(
                "refused",
                Some(Box::new(E("os error 111", None))),
            ))),
        );
        assert_eq!(error_chain(&e), "request failed: refused: os error 111");
        assert_eq!(error_chain(&E("alone", None)), "alone");
    }

    #[tokio::test]
    async fn a_client_builds_and_reports_a_refused_connection_with_its_causes() {
        let client = build(builder("patchflow-test/0").unwrap()).unwrap();
        // A port that was just free: nothing listens on it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = client
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap_err();
        let text = error_chain(&err);
        assert!(text.contains("Connection refused"), "{text}");
    }
}
