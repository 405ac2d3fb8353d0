//! The event schemas in `schemas/`: in step with the types, and every event
//! the tests see validates against its own.

use std::path::PathBuf;

use tests::Logged;

fn schemas_dir() -> PathBuf {
    testkit::workspace_root().join("schemas")
}

#[test]
fn schemas_match_the_types() {
    let dir = schemas_dir();
    let expected = events::schema::all();
    let mut drift = Vec::new();
    for (name, schema) in &expected {
        let want = format!("{}\n", serde_json::to_string_pretty(schema).unwrap());
        match std::fs::read_to_string(dir.join(name)) {
            Ok(have) if have == want => {}
            Ok(_) => drift.push(format!("{name} differs from its type")),
            Err(_) => drift.push(format!("{name} is missing")),
        }
    }
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !expected.iter().any(|(n, _)| *n == name) {
            drift.push(format!("{name} has no event type"));
        }
    }
    assert!(
        drift.is_empty(),
        "schemas/ drifted from crates/events (regenerate with `patchflow schemas write schemas`): {drift:?}"
    );
    assert_eq!(expected.len(), events::Payload::TYPES.len());
}

/// Validates every logged message against `schemas/<type>.json`.
pub fn assert_valid(logged: &[Logged]) {
    let mut validators = std::collections::BTreeMap::new();
    let mut checked = 0;
    for l in logged {
        let value: serde_json::Value = serde_json::from_slice(&l.raw)
            .unwrap_or_else(|e| panic!("{} seq {} is not JSON: {e}", l.stream, l.seq));
        let t = value["type"].as_str().unwrap_or_default().to_owned();
        let validator = validators.entry(t.clone()).or_insert_with(|| {
            let text = std::fs::read_to_string(schemas_dir().join(format!("{t}.json")))
                .unwrap_or_else(|_| panic!("no schema for {t:?}"));
            let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
            jsonschema::validator_for(&schema).unwrap()
        });
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{t} (seq {} of {}) violates its schema: {errors:?}",
            l.seq,
            l.stream
        );
        checked += 1;
    }
    assert!(checked > 0);
}
