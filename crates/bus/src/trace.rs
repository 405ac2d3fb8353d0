//! W3C Trace Context (`traceparent`) for events: each handled message gets a
//! span whose parent is the `traceparent` of the event it handles, and the
//! events it produces carry a child `traceparent`, so one trace follows a
//! report from submission to the compliance table.

/// Parses `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`; returns the
/// trace id and parent span id when well formed.
pub fn parse(traceparent: &str) -> Option<(&str, &str)> {
    let mut parts = traceparent.split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let span_id = parts.next()?;
    let flags = parts.next()?;
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    (version == "00"
        && hex(trace_id, 32)
        && hex(span_id, 16)
        && hex(flags, 2)
        && trace_id != "00000000000000000000000000000000"
        && span_id != "0000000000000000"
        && parts.next().is_none())
    .then_some((trace_id, span_id))
}

/// A `traceparent` for a new span: a child of `parent` when it is well
/// formed (same trace id, new span id), else the root of a new trace.
pub fn child(parent: Option<&str>) -> String {
    let span_id = format!("{:016x}", rand::random::<u64>().max(1));
    match parent.and_then(parse) {
        Some((trace_id, _)) => format!("00-{trace_id}-{span_id}-01"),
        None => format!("00-{:032x}-{span_id}-01", rand::random::<u128>().max(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_keeps_the_trace_and_changes_the_span() {
        let root = child(None);
        let (trace, span) = parse(&root).unwrap();
        let kid = child(Some(&root));
        let (kid_trace, kid_span) = parse(&kid).unwrap();
        assert_eq!(kid_trace, trace);
        assert_ne!(kid_span, span);
    }

    #[test]
    fn malformed_parents_start_a_new_trace() {
        for bad in [
            "",
            "01-abc",
            "00-00000000000000000000000000000000-0000000000000001-01",
            "00-ABCDEF00000000000000000000000000-0000000000000001-01",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
            assert!(parse(&child(Some(bad))).is_some());
        }
    }
}
