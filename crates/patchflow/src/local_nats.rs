//! The local nats-server `patchflow up` starts when no NATS URL is set: the
//! pinned binary found by `bus::local`, JetStream on, its store and log in
//! the data folder, and its URL written to `<data_dir>/nats.url` so other
//! commands on this machine find it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

/// A running local nats-server; stopped (SIGTERM, then SIGKILL) on [`LocalNats::stop`] or drop.
pub struct LocalNats {
    child: Option<bus::local::LocalServer>,
    url: String,
    url_file: PathBuf,
}

impl LocalNats {
    /// Starts a server storing in `<data_dir>/nats` on port 4222 when free,
    /// else on a free port.
    pub fn start(data_dir: &Path) -> Result<LocalNats> {
        let bin = bus::local::find_nats_server_from_env()?;
        let store = data_dir.join("nats");
        std::fs::create_dir_all(&store).with_context(|| format!("create {}", store.display()))?;
        let port = if std::net::TcpListener::bind(("127.0.0.1", 4222)).is_ok() {
            4222
        } else {
            bus::local::free_port().context("find a free port")?
        };
        let log = data_dir.join("nats-server.log");
        let child = bus::local::spawn(&bin, port, &store, &[], Some(&log))
            .with_context(|| format!("start {}", bin.display()))?;
        let mut server = LocalNats {
            child: Some(child),
            url: format!("nats://127.0.0.1:{port}"),
            url_file: data_dir.join("nats.url"),
        };
        if let Err(e) = bus::local::wait_ready(port, Duration::from_secs(15)) {
            server.stop();
            anyhow::bail!("{e} (see {})", log.display());
        }
        std::fs::write(&server.url_file, &server.url)
            .with_context(|| format!("write {}", server.url_file.display()))?;
        Ok(server)
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the server gracefully (SIGTERM, up to 10 s), then forcibly.
    pub fn stop(&mut self) {
        let _ = std::fs::remove_file(&self.url_file);
        if let Some(mut child) = self.child.take() {
            child.terminate();
        }
    }
}

impl Drop for LocalNats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The URL a running `patchflow up` left in `<data_dir>/nats.url`, if any.
pub fn discovered_url(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(data_dir.join("nats.url"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}
