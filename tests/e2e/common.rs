//! Lab set-up shared by the end-to-end tests: an inventory over the four
//! rings, one lab agent state per host, a config whose windows are always
//! open, and a real HTTP health endpoint for validate.

use std::path::PathBuf;
use std::time::Duration;

use tests::Lab;

/// The seven hosts of `nessus/defectdojo__nessus_v_unknown.xml`, spread over
/// the four rings.
pub const V_UNKNOWN_HOSTS: &[(&str, &str, &str)] = &[
    ("qa3app09", "10.31.112.29", "dev"),
    ("qa3app06", "10.31.112.26", "test"),
    ("qa3app05", "10.31.112.25", "test"),
    ("qa3app04", "10.31.112.24", "staging"),
    ("qa3app03", "10.31.112.23", "staging"),
    ("qa3app02", "10.31.112.22", "prod"),
    ("qa3app01", "10.31.112.21", "prod"),
];

/// The corpus report every flow test submits, or `None` (skipped loudly).
pub fn v_unknown() -> Option<PathBuf> {
    Some(testkit::corpus()?.join("nessus/defectdojo__nessus_v_unknown.xml"))
}

/// Serves `GET /health` → 200 on 127.0.0.1; returns `host:port`.
pub async fn health_endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind health endpoint");
    let addr = listener.local_addr().expect("local addr").to_string();
    let app = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Writes inventory, agent states and `patchflow.toml` for `hosts` into the lab.
pub fn write_lab(lab: &Lab, hosts: &[(&str, &str, &str)], health: &str) {
    let mut inventory = String::from("hostname,ip,ring,tier,internet_facing,owner,window\n");
    let mut agents = String::new();
    std::fs::create_dir_all(lab.path("agents")).expect("agents folder");
    for (host, ip, ring) in hosts {
        inventory.push_str(&format!("{host},{ip},{ring},3,false,ops,{ring}\n"));
        let state = lab.path(&format!("agents/{host}.json"));
        std::fs::write(
            &state,
            format!("{{\"host\": \"{host}\", \"packages\": {{\"openssl\": \"1.0.1e\"}}}}\n"),
        )
        .expect("agent state");
        agents.push_str(&format!(
            "[[agents]]\nhost = \"{host}\"\nstate = \"{}\"\n",
            state.display()
        ));
    }
    std::fs::write(lab.path("inventory.csv"), inventory).expect("inventory");
    let config = format!(
        r#"[ingest]
inventory = "inventory.csv"

[schedule]
tick_interval_ms = 100
# Lab drills: scanner solutions go to the lab agents, and no change approval.
scanner_solutions = "send_to_agent"
[schedule.approval]
rings = []
[[schedule.rings]]
name = "dev"
soak_hours = 0
[[schedule.rings]]
name = "test"
soak_hours = 0
[[schedule.rings]]
name = "staging"
soak_hours = 0
[[schedule.rings]]
name = "prod"
soak_hours = 0
[schedule.rollout]
result_timeout_secs = 30

[deploy]
tick_interval_ms = 100

[[validate.checks]]
name = "app-health"
kind = "http"
url = "http://{health}/health"
[[validate.checks]]
name = "app-port"
kind = "tcp"
addr = "{health}"

{agents}"#
    );
    std::fs::write(lab.path("patchflow.toml"), config).expect("config");
}

/// How long a whole flow may take before a test fails.
pub const FLOW_TIMEOUT: Duration = Duration::from_secs(180);
