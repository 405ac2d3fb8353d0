//! The deployment files: the compose file parses and runs every service, and
//! every NATS config is one nats-server accepts.

use yaml_rust2::YamlLoader;

#[test]
fn compose_file_parses_and_names_every_service() {
    let text =
        std::fs::read_to_string(testkit::workspace_root().join("docker-compose.yml")).unwrap();
    let docs = YamlLoader::load_from_str(&text).expect("docker-compose.yml is YAML");
    let services = docs[0]["services"].as_hash().expect("a services map");
    let names: Vec<&str> = services.keys().filter_map(|k| k.as_str()).collect();
    for nats in ["nats-1", "nats-2", "nats-3"] {
        assert!(names.contains(&nats), "{nats} missing from {names:?}");
    }
    for service in [
        "ingest",
        "prioritize",
        "schedule",
        "deploy",
        "validate",
        "report",
    ] {
        let def = &docs[0]["services"][service];
        let command: Vec<&str> = def["command"]
            .as_vec()
            .unwrap_or_else(|| panic!("{service} has no command"))
            .iter()
            .filter_map(|c| c.as_str())
            .collect();
        assert_eq!(&command[..2], ["serve", service], "{service}");
    }
    let anchors = &docs[0]["x-nats"];
    assert!(anchors["image"].as_str().unwrap().starts_with("nats:"));
    assert_eq!(docs[0]["x-patchflow"]["build"].as_str(), Some("."));
}

#[test]
fn nats_configs_are_accepted_by_nats_server() {
    let bin = testkit::find_nats_server().unwrap_or_else(|e| panic!("{e}"));
    let root = testkit::workspace_root();
    let env = std::fs::read_to_string(root.join("deploy/nats.env")).unwrap();
    let vars: Vec<(&str, &str)> = env
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .filter_map(|l| l.split_once('='))
        .collect();
    for i in 1..=3 {
        let conf = root.join(format!("deploy/nats/nats-{i}.conf"));
        let out = std::process::Command::new(&bin)
            .arg("-t")
            .arg("-c")
            .arg(&conf)
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            conf.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
