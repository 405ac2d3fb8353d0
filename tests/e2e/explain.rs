//! `patchflow explain` and `patchflow policy diff` on a real flow: ingest and
//! prioritize run as their own processes, a corpus report goes through
//! them, and the two commands read what was decided from the report
//! projection they catch up from NATS, publishing nothing themselves.

use std::collections::BTreeMap;
use std::time::Duration;

use events::{Payload, Priority, spec};
use tests::{Lab, count};

use crate::common::{V_UNKNOWN_HOSTS, v_unknown};

const WAIT: Duration = Duration::from_secs(120);

/// Tier 1 and internet-facing for the prod hosts, tier 3 elsewhere.
fn write_config(lab: &Lab) {
    let mut inventory = String::from("hostname,ip,ring,tier,internet_facing,owner,window\n");
    for (host, ip, ring) in V_UNKNOWN_HOSTS {
        let (tier, exposed) = if *ring == "prod" {
            (1, true)
        } else {
            (3, false)
        };
        inventory.push_str(&format!("{host},{ip},{ring},{tier},{exposed},ops,{ring}\n"));
    }
    std::fs::write(lab.path("inventory.csv"), inventory).expect("inventory");
    std::fs::write(
        lab.path("patchflow.toml"),
        "[ingest]\ninventory = \"inventory.csv\"\n",
    )
    .expect("config");
}

/// The last sequence of every stream of the lab's namespace.
async fn stream_ends(lab: &Lab) -> Vec<u64> {
    let mut ends = Vec::new();
    for s in spec::STREAMS {
        ends.push(lab.bus.stream_last_sequence(&s).await.expect("stream end"));
    }
    ends
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_and_policy_diff_read_what_prioritize_decided() {
    let Some(report) = v_unknown() else { return };
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;
    write_config(&lab);
    let ingest = lab.spawn("ingest", &["serve", "ingest"]);
    let prioritize = lab.spawn("prioritize", &["serve", "prioritize"]);
    let (status, out, err) = lab.run(&["scan", "submit", "--wait", report.to_str().unwrap()]);
    assert!(
        status.success(),
        "{out}{err}\n{}\n{}",
        ingest.log_text(),
        prioritize.log_text()
    );
    lab.log
        .wait_for("30 decisions", WAIT, |e| {
            count(e, "patch.finding.prioritized.v1") >= 30
        })
        .await;
    let decided: Vec<_> = lab.log.payloads(|p| match p {
        Payload::FindingPrioritized(d) => Some(d.clone()),
        _ => None,
    });
    assert_eq!(decided.len(), 30);
    let before = stream_ends(&lab).await;

    // explain: a prod finding, raised by tier 1 and exposure (capped at one).
    let d = decided
        .iter()
        .find(|d| d.asset.asset_id == "qa3app01")
        .expect("a finding on qa3app01");
    let id = d.finding_id.to_string();
    let (status, text, err) = lab.run(&["explain", &id]);
    assert!(status.success(), "{err}");
    assert!(text.starts_with(&format!("finding {id}\n")), "{text}");
    for needle in [
        format!("  fingerprint  {}\n", d.fingerprint),
        "  asset        qa3app01 (ring prod, tier 1, internet-facing)\n".to_owned(),
        format!(
            "\npriority {}, due {} ({} h SLA)\n",
            d.priority.as_str(),
            d.due_at
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            d.sla_hours
        ),
        "under policy default-1 (trigger: observation;".to_owned(),
        "  asset      tier 1, exposure internet-facing, ring prod\n".to_owned(),
        format!(
            "  clock start  {} (first observation on qa3app01)\n",
            d.first_observed_at
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        ),
        "\nhistory: this is the only decision\n".to_owned(),
    ] {
        assert!(text.contains(&needle), "{needle:?} missing from:\n{text}");
    }
    // Every rule, numbered, in the decision's order.
    let mut from = 0;
    for (n, r) in d.reasons.iter().enumerate() {
        let head = format!("  {:>2}. {}:{}", n + 1, r.rule, r.effect);
        let at = text[from..]
            .find(&head)
            .unwrap_or_else(|| panic!("{head:?} missing or out of order in:\n{text}"));
        from += at + head.len();
    }
    assert!(d.reasons.iter().any(|r| r.rule == "raise_cap"), "{text}");
    // The fingerprint names the same finding; JSON has the same decision.
    let (status, by_fingerprint, _) = lab.run(&["explain", &d.fingerprint]);
    assert!(status.success());
    assert_eq!(by_fingerprint, text);
    // So does a unique prefix of its id, as `report findings` prints ids;
    // three characters are too few to be taken.
    let (status, by_prefix, err) = lab.run(&["explain", "--no-sync", &id[..13]]);
    assert!(status.success(), "{err}");
    assert_eq!(by_prefix, text);
    let (status, _, err) = lab.run(&["explain", "--no-sync", &id[..3]]);
    assert_eq!(status.code(), Some(1));
    assert!(err.contains("no finding"), "{err}");
    let (status, json, _) = lab.run(&["explain", "--no-sync", &id, "--json"]);
    assert!(status.success());
    let json: serde_json::Value = serde_json::from_str(&json).expect("explain --json");
    assert_eq!(json["decisions"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        json["decisions"][0]["decision"]["due_at"],
        serde_json::to_value(d.due_at).unwrap()
    );
    let (status, _, err) = lab.run(&["explain", "00000000-0000-0000-0000-000000000000"]);
    assert_eq!(status.code(), Some(1));
    assert!(
        err.contains("no finding \"00000000-0000-0000-0000-000000000000\""),
        "{err}"
    );

    // policy diff: lowering tier 3 too moves every tier-3 finding above low
    // down one class; the deadlines already set are kept.
    std::fs::write(
        lab.path("candidate.toml"),
        "version = \"cand-1\"\n[tier]\nlower_tiers = [3, 4]\n",
    )
    .unwrap();
    let mut current = BTreeMap::new();
    let mut moves = BTreeMap::new();
    for d in &decided {
        *current.entry(d.priority).or_insert(0) += 1;
        if d.asset.tier == Some(3) && d.priority != Priority::Low {
            *moves
                .entry((d.priority, d.priority.lowered()))
                .or_insert(0usize) += 1;
        }
    }
    assert!(
        !moves.is_empty(),
        "the report has tier-3 findings above low"
    );
    let candidate = lab.path("candidate.toml");
    let (status, text, err) = lab.run(&["policy", "diff", candidate.to_str().unwrap()]);
    assert!(status.success(), "{err}");
    assert!(
        text.starts_with(
            "policy diff: default-1 (in force) -> cand-1 (candidate), 30 open finding(s) replayed\n"
        ),
        "{text}"
    );
    for p in Priority::ALL {
        let row = format!("\n{:<8}  {:>7}", p.as_str(), current.get(&p).unwrap_or(&0));
        assert!(text.contains(&row), "{row:?} missing from:\n{text}");
    }
    for ((from, to), n) in &moves {
        let row = format!("\n  {:<8} -> {:<8}  {n}\n", from.as_str(), to.as_str());
        assert!(text.contains(&row), "{row:?} missing from:\n{text}");
    }
    assert!(text.contains("\nno due date moves\n"), "{text}");
    assert!(text.ends_with("\nnothing was published\n"), "{text}");

    // As first decisions, the same findings get later deadlines.
    let (status, json, err) = lab.run(&[
        "policy",
        "diff",
        "--fresh",
        "--json",
        "--no-sync",
        candidate.to_str().unwrap(),
    ]);
    assert!(status.success(), "{err}");
    let diff: serde_json::Value = serde_json::from_str(&json).expect("policy diff --json");
    let changes = diff["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), moves.values().sum::<usize>());
    for c in changes {
        assert!(
            c["candidate_due_at"].as_str() > c["current_due_at"].as_str(),
            "{c}"
        );
    }

    // Neither command published anything.
    assert_eq!(stream_ends(&lab).await, before);

    // A KEV catalog loaded with `feed load` (not in the config) raises the
    // findings of one CVE to critical; policy diff replays with the intel
    // prioritize decides with, so its "in force" column is what is in force.
    let (cve, raised) = {
        let mut by_cve: BTreeMap<&str, usize> = BTreeMap::new();
        for d in decided.iter().filter(|d| d.priority != Priority::Critical) {
            for c in &d.cves {
                *by_cve.entry(c.as_str()).or_default() += 1;
            }
        }
        by_cve
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(c, n)| (c.to_owned(), n))
            .expect("a CVE of a finding below critical")
    };
    let kev = format!(
        r#"{{"title":"CISA Catalog of Known Exploited Vulnerabilities","catalogVersion":"2025.08.25",
            "dateReleased":"2025-08-25T14:00:00.0000Z","count":1,"vulnerabilities":[
            {{"cveID":"{cve}","vendorProject":"V","product":"P","vulnerabilityName":"V P flaw",
              "dateAdded":"2025-08-25","shortDescription":"d","requiredAction":"Apply updates.",
              "dueDate":"2025-09-15","knownRansomwareCampaignUse":"Unknown","notes":"","cwes":[]}}]}}"#
    );
    std::fs::write(lab.path("kev.json"), kev).unwrap();
    let kev_path = lab.path("kev.json");
    let (status, out, err) =
        lab.run(&["feed", "load", kev_path.to_str().unwrap(), "--kind", "kev"]);
    assert!(status.success(), "{out}{err}");
    let redecided = lab
        .log
        .wait_for("the KEV re-decisions", WAIT, |e| {
            count(e, "patch.finding.prioritized.v1") >= 30 + raised
        })
        .await;
    let mut latest = BTreeMap::new();
    for e in &redecided {
        if let Payload::FindingPrioritized(d) = &e.data {
            latest.insert(d.finding_id, d.priority);
        }
    }
    let mut in_force = BTreeMap::new();
    for p in latest.values() {
        *in_force.entry(*p).or_insert(0) += 1;
    }
    assert!(
        in_force.get(&Priority::Critical).copied().unwrap_or(0) >= raised,
        "{in_force:?}"
    );
    std::fs::write(lab.path("same.toml"), "version = \"same-1\"\n").unwrap();
    let same = lab.path("same.toml");
    let (status, text, err) = lab.run(&["policy", "diff", same.to_str().unwrap()]);
    assert!(status.success(), "{err}");
    for p in Priority::ALL {
        let row = format!("\n{:<8}  {:>7}", p.as_str(), in_force.get(&p).unwrap_or(&0));
        assert!(text.contains(&row), "{row:?} missing from:\n{text}");
    }
    // A candidate that is not a policy is refused as input (exit 4), before
    // anything is replayed; a missing file is "could not do it" (exit 1).
    std::fs::write(lab.path("broken.toml"), "version = \"b-1\"\n[sla\n").unwrap();
    let broken = lab.path("broken.toml");
    let (status, text, err) = lab.run(&["policy", "diff", broken.to_str().unwrap()]);
    assert_eq!(status.code(), Some(4), "{text}\n{err}");
    assert!(text.is_empty(), "{text}");
    assert!(
        err.contains("candidate policy rejected") && err.contains("broken.toml"),
        "{err}"
    );
    let missing = lab.path("missing.toml");
    let (status, _, err) = lab.run(&["policy", "diff", missing.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1), "{err}");
}
