//! JSON Schemas of every event type, generated from the payload types.
//!
//! `schemas/<type>.json` in the repository holds the output of [`all`]; the
//! `schemas_match_the_types` test in `crates/patchflow` fails when they
//! drift, and `patchflow schemas write DIR` regenerates them.

use serde_json::{Value, json};

use crate::envelope::{CONTENT_TYPE, Payload, SPEC_VERSION, dataschema};

/// `(file name, schema)` for every event type: the whole CloudEvents envelope
/// with `type` fixed and `data` the payload's schema (JSON Schema 2020-12).
pub fn all() -> Vec<(String, Value)> {
    Payload::data_schemas()
        .into_iter()
        .map(|(event_type, data)| (format!("{event_type}.json"), envelope(event_type, data)))
        .collect()
}

fn envelope(event_type: &str, data: schemars::Schema) -> Value {
    let mut data = data.to_value();
    let defs = data
        .as_object_mut()
        .and_then(|o| {
            o.remove("$schema");
            o.remove("$defs")
        })
        .unwrap_or_else(|| json!({}));
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": dataschema(event_type),
        "title": event_type,
        "description": format!("CloudEvents {SPEC_VERSION} structured-mode envelope of a {event_type} event"),
        "type": "object",
        "required": ["specversion", "id", "source", "type", "time", "datacontenttype", "data"],
        "properties": {
            "specversion": { "const": SPEC_VERSION },
            "id": { "type": "string", "format": "uuid" },
            "source": { "type": "string", "pattern": "^patchflow/[a-z]+$" },
            "type": { "const": event_type },
            "subject": { "type": "string" },
            "time": { "type": "string", "format": "date-time" },
            "datacontenttype": { "const": CONTENT_TYPE },
            "dataschema": { "const": dataschema(event_type) },
            "traceparent": {
                "type": "string",
                "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
            },
            "data": data
        },
        "additionalProperties": false
    });
    if defs.as_object().is_some_and(|d| !d.is_empty()) {
        schema["$defs"] = defs;
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_schema_per_type_with_the_type_fixed() {
        let all = all();
        assert_eq!(all.len(), Payload::TYPES.len());
        for (name, schema) in &all {
            let t = name.trim_end_matches(".json");
            assert_eq!(schema["properties"]["type"]["const"], t);
            assert!(t.ends_with(".v1"), "{t} has no version");
        }
    }
}
