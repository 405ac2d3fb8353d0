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

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use events::Namespace;

pub use bus::local::{INSTALL_HINT, NatsServerMissing, PINNED_VERSION, server_version};

/// Finds a nats-server ≥ 2.10 from the environment (see
/// [`bus::local::find_nats_server`]).
///
/// # Errors
/// [`NatsServerMissing`] naming what was tried and the install command.
pub fn find_nats_server() -> Result<PathBuf, NatsServerMissing> {
    bus::local::find_nats_server_from_env()
}

/// A running `nats-server` with JetStream on a free port and a temporary
/// store; killed and cleaned up on drop.
pub struct NatsServer {
    child: bus::local::LocalServer,
    port: u16,
    store: tempfile::TempDir,
    bin: PathBuf,
    args: Vec<String>,
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
        let child = spawn_args(&bin, port, store.path(), &[]);
        let server = NatsServer {
            child,
            port,
            store,
            bin,
            args: Vec::new(),
        };
        server.wait_ready();
        server
    }

    /// Starts a server with extra command-line arguments (`--sync_interval always`).
    ///
    /// # Panics
    /// As [`NatsServer::start`].
    pub fn start_with(extra: &[&str]) -> NatsServer {
        let bin = find_nats_server().unwrap_or_else(|e| panic!("{e}"));
        let store = tempfile::tempdir().expect("create temp store for nats-server");
        let port = free_port();
        let args: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let child = spawn_args(&bin, port, store.path(), &args);
        let server = NatsServer {
            child,
            port,
            store,
            bin,
            args,
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
        self.child.kill();
        self.child = spawn_args(&self.bin, self.port, self.store.path(), &self.args);
        self.wait_ready();
    }

    /// Stops the server gracefully (SIGTERM: it flushes its store and closes
    /// client connections) and starts it again on the same port and store.
    pub fn restart_graceful(&mut self) {
        self.child.terminate();
        self.child = spawn_args(&self.bin, self.port, self.store.path(), &self.args);
        self.wait_ready();
    }

    fn wait_ready(&self) {
        if let Err(e) = bus::local::wait_ready(self.port, Duration::from_secs(10)) {
            panic!("{e}");
        }
    }
}

fn spawn_args(bin: &Path, port: u16, store: &Path, extra: &[String]) -> bus::local::LocalServer {
    bus::local::spawn(bin, port, store, extra, None)
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()))
}

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    bus::local::free_port().expect("bind an ephemeral port")
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
