//! Ingest acceptance: finding identity across re-imports of every corpus
//! report, and resolution by full rescans only (`patchflow serve ingest`, the
//! real binary, against a real nats-server).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use events::{FindingObserved, FindingResolved, Payload, ScanScope};
use tests::Lab;
use uuid::Uuid;

/// Corpus folders of scanner reports whose re-import is checked: one line per
/// format.
const REIMPORT_FORMATS: &[&str] = &[
    "nessus", "qualys", "openvas", "nexpose", "trivy", "grype", "sarif",
];

const WAIT: Duration = Duration::from_secs(120);

/// A lab with only ingest running.
async fn ingest_lab() -> (Lab, tests::Proc) {
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;
    std::fs::write(lab.path("patchflow.toml"), "").expect("config");
    let proc = lab.spawn("ingest", &["serve", "ingest"]);
    (lab, proc)
}

/// What one submission produced.
struct Outcome {
    scan_id: Uuid,
    completed: bool,
    observed: Vec<FindingObserved>,
    resolved: Vec<FindingResolved>,
    /// What `scan submit --wait` printed.
    stdout: String,
}

/// Submits `file` with `--wait`, then reads back from the event log what
/// ingest published for it.
async fn submit(lab: &Lab, proc: &tests::Proc, file: &Path, scope: ScanScope) -> Outcome {
    let scope_arg = match scope {
        ScanScope::Full => "full",
        ScanScope::Partial => "partial",
    };
    let path = file.to_str().expect("utf-8 path");
    let (status, stdout, stderr) =
        lab.run(&["scan", "submit", "--wait", "--scope", scope_arg, path]);
    let scan_id: Uuid = stdout
        .lines()
        .find_map(|l| l.strip_prefix("submitted scan "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no scan id in {stdout:?} {stderr}\n{}", proc.log_text()));
    assert!(
        status.success() || stdout.contains("rejected:"),
        "{path}: {stdout}{stderr}\n{}",
        proc.log_text()
    );
    let events = lab
        .log
        .wait_for(&format!("the outcome of {path}"), WAIT, |events| {
            events.iter().any(|e| match &e.data {
                Payload::ScanCompleted(c) => c.scan_id == scan_id,
                Payload::ScanRejected(r) => r.scan_id == scan_id,
                _ => false,
            })
        })
        .await;
    let mut out = Outcome {
        scan_id,
        completed: false,
        observed: Vec::new(),
        resolved: Vec::new(),
        stdout: stdout.clone(),
    };
    for e in events {
        match e.data {
            Payload::ScanCompleted(c) if c.scan_id == scan_id => {
                assert_eq!(c.scope, scope);
                out.completed = true;
            }
            Payload::FindingObserved(f) if f.scan_id == scan_id => out.observed.push(f),
            Payload::FindingResolved(r) if r.scan_id == scan_id => out.resolved.push(r),
            _ => {}
        }
    }
    out
}

fn ids(observed: &[FindingObserved]) -> BTreeMap<Uuid, DateTime<Utc>> {
    observed
        .iter()
        .map(|f| (f.finding_id, f.first_observed_at))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_importing_every_corpus_report_creates_no_new_findings() {
    let Some(corpus) = testkit::corpus() else {
        return;
    };
    let (lab, proc) = ingest_lab().await;
    let mut ever: BTreeSet<Uuid> = BTreeSet::new();
    for format in REIMPORT_FORMATS {
        let mut files: Vec<_> = std::fs::read_dir(corpus.join(format))
            .unwrap_or_else(|e| panic!("corpus folder {format}: {e}"))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let mut completed = 0;
        for file in &files {
            let name = file.display();
            let first = submit(&lab, &proc, file, ScanScope::Full).await;
            let second = submit(&lab, &proc, file, ScanScope::Full).await;
            assert_ne!(first.scan_id, second.scan_id);
            assert_eq!(
                first.completed, second.completed,
                "{name}: one import completed, the other was rejected"
            );
            if !first.completed {
                continue;
            }
            completed += 1;
            let (one, two) = (ids(&first.observed), ids(&second.observed));
            assert_eq!(
                one.keys().collect::<Vec<_>>(),
                two.keys().collect::<Vec<_>>(),
                "{name}: the second import observed other findings"
            );
            assert_eq!(
                one, two,
                "{name}: the second import moved an SLA clock start"
            );
            // (The first import may resolve findings of an earlier corpus
            // file of the same asset and scanner; its repeat never does.)
            assert!(
                second.resolved.is_empty(),
                "{name}: a re-import resolved {:?}",
                second.resolved
            );
            let before = ever.len();
            ever.extend(one.keys());
            let after_first = ever.len();
            ever.extend(two.keys());
            assert_eq!(
                ever.len(),
                after_first,
                "{name}: import 2 created findings import 1 did not ({before} before)"
            );
        }
        assert!(
            completed > 0,
            "no {format} report of the corpus was ingested\n{}",
            proc.log_text()
        );
    }
    // Every observation of every report named a finding seen on its first import.
    let all: BTreeSet<Uuid> = lab
        .log
        .payloads(|p| match p {
            Payload::FindingObserved(f) => Some(f.finding_id),
            _ => None,
        })
        .into_iter()
        .collect();
    assert_eq!(all, ever);
}

/// One `<ReportItem>` of a generated report.
struct Item {
    port: u16,
    plugin: u32,
    name: &'static str,
    family: &'static str,
    severity: u8,
    cve: Option<&'static str>,
}

/// Nessus SYN scanner: the informational item naming an open port.
const fn syn(port: u16) -> Item {
    Item {
        port,
        plugin: 11219,
        name: "Nessus SYN scanner",
        family: "Port scanners",
        severity: 0,
        cve: None,
    }
}

/// Finding A: SSH, port 22.
const A: Item = Item {
    port: 22,
    plugin: 70001,
    name: "SSH Weak Key Exchange Algorithms Enabled",
    family: "Misc.",
    severity: 2,
    cve: None,
};
/// Finding B: the web server, port 80.
const B: Item = Item {
    port: 80,
    plugin: 70002,
    name: "Example HTTP Server Request Smuggling",
    family: "Web Servers",
    severity: 3,
    cve: Some("CVE-2000-99101"),
};
/// Finding C: TLS, port 443 (only in the partial scan).
const C: Item = Item {
    port: 443,
    plugin: 70003,
    name: "Example TLS Weak Cipher Suites",
    family: "General",
    severity: 2,
    cve: None,
};

/// A Nessus v2 report of one host (`fqdn`, 192.0.2.10, one MAC) scanned at
/// `at`, whose policy enables the families of A, B and C and the SYN scanner.
fn report(fqdn: &str, at: &str, items: &[Item]) -> String {
    let at: DateTime<Utc> = at.parse().expect("instant");
    let mut xml = String::from(
        r#"<?xml version="1.0" ?>
<NessusClientData_v2>
<Policy><policyName>patchflow rescan test</policyName>
<Preferences><ServerPreferences>
<preference><name>port_range</name><value>default</value></preference>
</ServerPreferences></Preferences>
<FamilySelection>
<FamilyItem><FamilyName>Misc.</FamilyName><Status>enabled</Status></FamilyItem>
<FamilyItem><FamilyName>Web Servers</FamilyName><Status>enabled</Status></FamilyItem>
<FamilyItem><FamilyName>General</FamilyName><Status>enabled</Status></FamilyItem>
<FamilyItem><FamilyName>Port scanners</FamilyName><Status>mixed</Status></FamilyItem>
</FamilySelection>
<IndividualPluginSelection>
<PluginItem><PluginId>11219</PluginId><PluginName>Nessus SYN scanner</PluginName><Family>Port scanners</Family><Status>enabled</Status></PluginItem>
</IndividualPluginSelection>
</Policy>
<Report name="rescan">
"#,
    );
    xml.push_str(&format!(
        r#"<ReportHost name="192.0.2.10"><HostProperties>
<tag name="host-ip">192.0.2.10</tag>
<tag name="host-fqdn">{fqdn}</tag>
<tag name="mac-address">00:50:56:00:00:10</tag>
<tag name="HOST_START_TIMESTAMP">{start}</tag>
<tag name="HOST_END_TIMESTAMP">{end}</tag>
</HostProperties>
"#,
        start = at.timestamp(),
        end = at.timestamp() + 600,
    ));
    for i in items {
        let svc = match i.port {
            22 => "ssh",
            80 => "www",
            _ => "https?",
        };
        xml.push_str(&format!(
            r#"<ReportItem port="{}" svc_name="{svc}" protocol="tcp" severity="{}" pluginID="{}" pluginName="{}" pluginFamily="{}">
<solution>Upgrade.</solution>
"#,
            i.port, i.severity, i.plugin, i.name, i.family
        ));
        if let Some(cve) = i.cve {
            xml.push_str(&format!("<cve>{cve}</cve>\n"));
        }
        xml.push_str("</ReportItem>\n");
    }
    xml.push_str("</ReportHost>\n</Report>\n</NessusClientData_v2>\n");
    xml
}

fn by_check<'a>(observed: &'a [FindingObserved], item: &Item) -> &'a FindingObserved {
    observed
        .iter()
        .find(|f| f.check.id == item.plugin.to_string())
        .unwrap_or_else(|| panic!("no finding of plugin {} in {observed:?}", item.plugin))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_rescan_resolves_what_it_no_longer_shows_and_a_partial_one_nothing() {
    let (lab, proc) = ingest_lab().await;
    let write = |name: &str, text: String| {
        let path = lab.path(name);
        std::fs::write(&path, text).expect("write report");
        path
    };
    let t = |s: &str| -> DateTime<Utc> { s.parse().expect("instant") };
    let fqdn = "web-h.example.test";
    let total_resolved = |lab: &Lab| {
        lab.log.payloads(|p| match p {
            Payload::FindingResolved(r) => Some(r.clone()),
            _ => None,
        })
    };

    // Scan 1: A and B on h.
    let scan1 = write(
        "scan1.nessus",
        report(fqdn, "2026-03-01T10:00:00Z", &[syn(22), syn(80), A, B]),
    );
    let s1 = submit(&lab, &proc, &scan1, ScanScope::Full).await;
    assert!(s1.completed && s1.resolved.is_empty());
    assert_eq!(s1.observed.len(), 2);
    let (a, b) = (
        by_check(&s1.observed, &A).clone(),
        by_check(&s1.observed, &B).clone(),
    );
    assert_eq!(a.asset.asset_id, "web-h");
    assert_eq!(a.fingerprint, "nessus:v1:web-h:70001:22/tcp");
    assert_eq!(b.first_observed_at, t("2026-03-01T10:00:00Z"));

    // Scan 2, full, of h: only A (port 80 still scanned and open) → B resolved.
    let scan2 = write(
        "scan2.nessus",
        report(fqdn, "2026-03-08T10:00:00Z", &[syn(22), syn(80), A]),
    );
    let s2 = submit(&lab, &proc, &scan2, ScanScope::Full).await;
    assert_eq!(s2.resolved.len(), 1, "{:?}", s2.resolved);
    // The operator is told, not only the event log.
    assert!(
        s2.stdout.contains("; 1 finding resolved (no longer seen)"),
        "{}",
        s2.stdout
    );
    assert!(!s1.stdout.contains("resolved"), "{}", s1.stdout);
    let r = &s2.resolved[0];
    assert_eq!((r.finding_id, r.scan_id), (b.finding_id, s2.scan_id));
    assert_eq!(
        (r.asset_id.as_str(), r.fingerprint.as_str()),
        ("web-h", b.fingerprint.as_str())
    );
    assert_eq!(r.resolved_at, t("2026-03-08T10:00:00Z"));
    assert_eq!(
        ids(&s2.observed).keys().collect::<Vec<_>>(),
        vec![&a.finding_id]
    );

    // Scan 3, partial: ports 22 and 443, only C. A is absent on a scanned
    // port of an enabled family (a full scan would resolve it), B's port is
    // not covered: a partial scan resolves nothing.
    let scan3 = write(
        "scan3.nessus",
        report(fqdn, "2026-03-09T10:00:00Z", &[syn(22), syn(443), C]),
    );
    let s3 = submit(&lab, &proc, &scan3, ScanScope::Partial).await;
    assert!(s3.completed);
    assert!(s3.resolved.is_empty(), "{:?}", s3.resolved);
    assert_eq!(s3.observed.len(), 1);

    // Scan 4, full: B is back → reopened with a new SLA clock; A keeps its start.
    let scan4 = write(
        "scan4.nessus",
        report(fqdn, "2026-03-10T10:00:00Z", &[syn(22), syn(80), A, B]),
    );
    let s4 = submit(&lab, &proc, &scan4, ScanScope::Full).await;
    assert!(
        s4.resolved.is_empty(),
        "C's port 443 was not scanned: {:?}",
        s4.resolved
    );
    let (a4, b4) = (by_check(&s4.observed, &A), by_check(&s4.observed, &B));
    assert_eq!(b4.finding_id, b.finding_id);
    assert!(b4.reopened);
    assert_eq!(b4.first_observed_at, t("2026-03-10T10:00:00Z"));
    assert!(!a4.reopened);
    assert_eq!(a4.first_observed_at, t("2026-03-01T10:00:00Z"));

    // Scan 5, full, but port 80 neither open nor in an explicit port range:
    // B's absence proves nothing.
    let scan5 = write(
        "scan5.nessus",
        report(fqdn, "2026-03-11T10:00:00Z", &[syn(22), A]),
    );
    let s5 = submit(&lab, &proc, &scan5, ScanScope::Full).await;
    assert!(s5.resolved.is_empty(), "{:?}", s5.resolved);

    // Scan 6: the host's DNS name changed, same IP and MAC: same asset, same
    // finding ids, nothing new, nothing resolved.
    let scan6 = write(
        "scan6.nessus",
        report(
            "web-h2.example.test",
            "2026-03-12T10:00:00Z",
            &[syn(22), syn(80), A, B],
        ),
    );
    let s6 = submit(&lab, &proc, &scan6, ScanScope::Full).await;
    assert!(s6.resolved.is_empty(), "{:?}", s6.resolved);
    let six: BTreeSet<Uuid> = s6.observed.iter().map(|f| f.finding_id).collect();
    assert_eq!(six, BTreeSet::from([a.finding_id, b.finding_id]));
    for f in &s6.observed {
        assert_eq!(f.asset.asset_id, "web-h");
        assert_eq!(f.asset.fqdn.as_deref(), Some("web-h2.example.test"));
    }

    // Scan 1 imported again: B's old sighting belongs to the closed period.
    let s7 = submit(&lab, &proc, &scan1, ScanScope::Full).await;
    assert!(s7.resolved.is_empty());
    assert_eq!(
        ids(&s7.observed).keys().collect::<Vec<_>>(),
        vec![&a.finding_id]
    );

    // Over the whole story: exactly one resolution, B's, by scan 2.
    let all = total_resolved(&lab);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        (all[0].finding_id, all[0].scan_id),
        (b.finding_id, s2.scan_id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_and_cmdb_assets_reconcile_scanned_hosts_without_looping() {
    use events::{Asset, AssetSource, AssetUpserted, Event, Service};
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;
    std::fs::write(
        lab.path("inventory.json"),
        r#"{"assets": [{"hostname": "db-1", "ip": "192.0.2.20", "environment": "staging",
            "criticality": "high", "exposure": "internal", "owner": "dba", "window": "sat-01"}]}"#,
    )
    .expect("inventory");
    std::fs::write(
        lab.path("patchflow.toml"),
        "[ingest]\ninventory = \"inventory.json\"\n",
    )
    .expect("config");
    let proc = lab.spawn("ingest", &["serve", "ingest"]);
    let upserts = |lab: &Lab, source: AssetSource, id: &str| {
        lab.log.payloads(|p| match p {
            Payload::AssetUpserted(u) if u.source == source && u.asset.asset_id == id => {
                Some(u.asset.clone())
            }
            _ => None,
        })
    };
    lab.log
        .wait_for("the inventory upsert", WAIT, |events| {
            events.iter().any(|e| {
                matches!(&e.data, Payload::AssetUpserted(u)
                    if u.source == AssetSource::Inventory && u.asset.asset_id == "db-1")
            })
        })
        .await;

    // A CMDB names a host by its own id, IP, MAC and agent.
    let cmdb = Event::new(
        Uuid::now_v7(),
        Service::Cli,
        Utc::now(),
        AssetUpserted {
            asset: Asset {
                asset_id: "cmdb-7731".into(),
                ip: Some("192.0.2.30".into()),
                mac: Some("00:50:56:00:00:30".into()),
                agent_id: Some("agent-30".into()),
                ring: Some("prod".into()),
                tier: Some(1),
                internet_facing: Some(true),
                owner: Some("payments".into()),
                window: Some("sun-02".into()),
                ..Asset::default()
            },
            source: AssetSource::Cmdb,
            scan_id: None,
            facts: Vec::new(),
        },
    );
    lab.bus.publish(&cmdb).await.expect("publish cmdb upsert");
    lab.log
        .wait_for("ingest's echo of the cmdb upsert", WAIT, |events| {
            events.iter().any(|e| {
                matches!(&e.data, Payload::AssetUpserted(u)
                    if u.source == AssetSource::Inventory && u.asset.asset_id == "cmdb-7731")
            })
        })
        .await;

    // A scan of both hosts: one known by name and IP, one by IP only (its
    // DNS name is new to everyone).
    let host = |name: &str, ip: &str, mac: &str| {
        format!(
            r#"<ReportHost name="{ip}"><HostProperties>
<tag name="host-ip">{ip}</tag><tag name="host-fqdn">{name}</tag><tag name="mac-address">{mac}</tag>
<tag name="HOST_START_TIMESTAMP">1772359200</tag></HostProperties>
<ReportItem port="22" svc_name="ssh" protocol="tcp" severity="2" pluginID="70001" pluginName="SSH Weak Key Exchange Algorithms Enabled" pluginFamily="Misc."/>
</ReportHost>"#
        )
    };
    let report = format!(
        "<NessusClientData_v2><Report name=\"inv\">{}{}</Report></NessusClientData_v2>",
        host("db-1.example.test", "192.0.2.20", "00:50:56:00:00:20"),
        host("pay-1.example.test", "192.0.2.30", "00:50:56:00:00:30"),
    );
    std::fs::write(lab.path("inv.nessus"), report).expect("report");
    let scan = submit(&lab, &proc, &lab.path("inv.nessus"), ScanScope::Full).await;
    assert!(scan.completed);
    let by_asset: BTreeMap<String, &FindingObserved> = scan
        .observed
        .iter()
        .map(|f| (f.asset.asset_id.clone(), f))
        .collect();
    assert_eq!(
        by_asset.keys().collect::<Vec<_>>(),
        ["cmdb-7731", "db-1"],
        "{:?}",
        scan.observed
    );
    let db = &by_asset["db-1"].asset;
    assert_eq!((db.ring.as_deref(), db.tier), (Some("staging"), Some(2)));
    assert_eq!(
        (
            db.internet_facing,
            db.owner.as_deref(),
            db.window.as_deref()
        ),
        (Some(false), Some("dba"), Some("sat-01"))
    );
    let pay = &by_asset["cmdb-7731"].asset;
    assert_eq!((pay.ring.as_deref(), pay.tier), (Some("prod"), Some(1)));
    assert_eq!(pay.owner.as_deref(), Some("payments"));
    assert_eq!(pay.fqdn.as_deref(), Some("pay-1.example.test"));
    assert_eq!(pay.agent_id.as_deref(), Some("agent-30"));
    assert_eq!(
        by_asset["cmdb-7731"].fingerprint,
        "nessus:v1:cmdb-7731:70001:22/tcp"
    );

    // Nothing looped: one echo of the CMDB record, nothing dead-lettered.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(upserts(&lab, AssetSource::Inventory, "cmdb-7731").len(), 1);
    assert_eq!(upserts(&lab, AssetSource::Inventory, "db-1").len(), 1);
    let dead = lab.log.payloads(|p| match p {
        Payload::DeadLettered(d) => Some(d.reason.clone()),
        _ => None,
    });
    assert!(dead.is_empty(), "{dead:?}\n{}", proc.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_wait_gives_up_when_no_ingest_runs_and_reads_standard_input() {
    let Some(report) = crate::common::v_unknown() else {
        return;
    };
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;
    std::fs::write(lab.path("patchflow.toml"), "").expect("config");
    let report = report.to_str().expect("utf-8 path");

    // Nothing ingests: --wait gives up at its limit with "not yet" (3).
    let (status, out, err) = lab.run(&["scan", "submit", "--wait", "--timeout", "1", report]);
    assert_eq!(status.code(), Some(3), "{out}{err}");
    let scan_id = out
        .split_whitespace()
        .nth(2)
        .expect("submitted scan <id>")
        .to_owned();
    assert!(
        out.contains(&format!(
            "scan {scan_id}: submitted, not ingested within 1 s"
        )),
        "{out}"
    );

    // Once ingest runs, the same scan completes.
    let mut ingest = lab.spawn("ingest", &["serve", "ingest"]);
    let (status, out, err) = lab.run(&["scan", "status", &scan_id, "--wait", "--timeout", "120"]);
    assert!(status.success(), "{out}{err}\n{}", ingest.log_text());
    assert!(out.starts_with("completed: 7 hosts, 30 findings"), "{out}");

    // `-` submits standard input.
    let piped = lab
        .patchflow()
        .args(["scan", "submit", "--wait", "-"])
        .stdin(std::fs::File::open(report).expect("open report"))
        .output()
        .expect("run patchflow");
    let out = String::from_utf8_lossy(&piped.stdout);
    assert!(
        piped.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    assert!(out.contains("(standard input)"), "{out}");
    assert!(out.contains("completed: 7 hosts, 30 findings"), "{out}");
    ingest.signal("TERM");
    assert!(ingest.wait(Duration::from_secs(30)).success());
}
