//! Stopping `patchflow up` from a terminal: Ctrl-C goes to every process of
//! the foreground job, so the nats-server `up` started must not be in it.
//! `up` drains its services, then stops its server, and exits 0.

use std::time::{Duration, Instant};

use tests::{Lab, Proc};

use crate::common::{V_UNKNOWN_HOSTS, health_endpoint, write_lab};

/// A lab whose `patchflow up` runs with no NATS_URL, so it starts its own
/// nats-server; `edit` changes the command first. Returns once every
/// service runs.
async fn up_with_its_own_server(edit: impl FnOnce(&mut std::process::Command)) -> (Lab, Proc) {
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;
    write_lab(&lab, V_UNKNOWN_HOSTS, &health_endpoint().await);
    let up = lab.spawn_with("up", &["up"], |cmd| {
        cmd.env_remove("NATS_URL");
        edit(cmd);
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !up.log_text().contains("every service running") {
        assert!(
            Instant::now() < deadline,
            "up did not start:\n{}",
            up.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (lab, up)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_at_the_terminal_drains_up_and_stops_its_local_server() {
    // Its own process group, as a shell gives a foreground job.
    let (lab, mut up) = up_with_its_own_server(|cmd| {
        std::os::unix::process::CommandExt::process_group(cmd, 0);
    })
    .await;
    let url_file = lab.path("data/nats.url");
    let url = std::fs::read_to_string(&url_file).expect("up wrote nats.url");
    let url = url.lines().next().unwrap_or_default().to_owned();
    let port: u16 = url
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("port of {url:?}"));

    up.signal_group("INT");
    let status = up.wait(Duration::from_secs(30));
    assert!(status.success(), "{status:?}\n{}", up.log_text());
    let log = up.log_text();
    assert!(log.contains("interrupt: draining in-flight work"), "{log}");
    // The server stopped after the services, and the URL left with it.
    assert!(!url_file.exists(), "{log}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the local nats-server on {port} outlived up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_up_is_killed_commands_answer_from_the_local_copy() {
    let (lab, mut up) = up_with_its_own_server(|_| {}).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    // The projection exists once report has caught up; then a crash.
    let db = lab.path("data/report.sqlite");
    while !db.exists() {
        assert!(
            Instant::now() < deadline,
            "no projection:\n{}",
            up.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    up.signal("KILL");
    let _ = up.wait(Duration::from_secs(10));
    assert!(
        lab.path("data/nats.url").exists(),
        "a crash leaves nats.url"
    );

    // Its server is gone with it (the guardian saw up's end); the stale
    // nats.url is ignored with a warning, and the report answers.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        // Without --config: the configuration `up` ran with is used.
        let out = lab
            .patchflow()
            .env_remove("NATS_URL")
            .env_remove("PATCHFLOW_CONFIG")
            .args(["report", "compliance", "--as-of", "2013-08-15"])
            .output()
            .expect("run patchflow");
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            assert!(
                err.contains("left by a patchflow up that did not stop cleanly"),
                "{err}"
            );
            let config = lab.path("patchflow.toml");
            assert!(
                err.contains(&format!("note: using {}", config.display())),
                "{err}"
            );
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("fleet as of 2013-08-15"),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
            break;
        }
        // Until the guardian has stopped the server, it still answers.
        assert!(Instant::now() < deadline, "{err}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
