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
        // The URL, then the pid of this process: a file whose writer is gone
        // is stale even when another server took the port since.
        std::fs::write(
            &server.url_file,
            format!("{}\npid {}\n", server.url, std::process::id()),
        )
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
///
/// The file holds the URL, then `pid <n>` of the `up` that wrote it. A file
/// left behind by an `up` that did not stop cleanly (killed, or the machine
/// went down) is ignored, with a warning on stderr, so commands answer from
/// the local report projection as after a clean stop: when that process is
/// gone (even if another server took the port since), or when nothing
/// answers at the URL.
pub fn discovered_url(data_dir: &Path) -> Option<String> {
    let path = data_dir.join("nats.url");
    let text = std::fs::read_to_string(&path).ok()?;
    let mut lines = text.lines().map(str::trim);
    let url = lines.next().filter(|s| !s.is_empty())?.to_owned();
    let writer: Option<u32> = lines.find_map(|l| l.strip_prefix("pid ")?.trim().parse().ok());
    let gone = writer.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
    if !gone && answers(&url) {
        return Some(url);
    }
    eprintln!(
        "warning: {} names {url}, left by a patchflow up that did not stop cleanly; going on \
         without NATS",
        path.display()
    );
    None
}

/// Whether something accepts TCP connections at `nats://host:port` within
/// half a second. A URL of another form is assumed to answer.
fn answers(url: &str) -> bool {
    use std::net::ToSocketAddrs as _;
    let Some(authority) = url.strip_prefix("nats://") else {
        return true;
    };
    let Ok(mut addrs) = authority.to_socket_addrs() else {
        return true;
    };
    addrs.any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_file_of_a_dead_up_or_a_dead_port_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(discovered_url(dir.path()), None);
        let live = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let live_url = format!("nats://{}", live.local_addr().unwrap());
        std::fs::write(dir.path().join("nats.url"), format!("{live_url}\n")).unwrap();
        assert_eq!(discovered_url(dir.path()), Some(live_url.clone()));
        // Written by this (live) process: used.
        let mine = format!("{live_url}\npid {}\n", std::process::id());
        std::fs::write(dir.path().join("nats.url"), mine).unwrap();
        assert_eq!(discovered_url(dir.path()), Some(live_url.clone()));
        // Written by a process that is gone: ignored, though a server answers.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let stale = format!("{live_url}\npid {gone}\n");
        std::fs::write(dir.path().join("nats.url"), stale).unwrap();
        assert_eq!(discovered_url(dir.path()), None);
        let port = live.local_addr().unwrap().port();
        drop(live);
        std::fs::write(
            dir.path().join("nats.url"),
            format!("nats://127.0.0.1:{port}"),
        )
        .unwrap();
        assert_eq!(discovered_url(dir.path()), None);
    }
}
