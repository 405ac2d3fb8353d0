//! `patchflow cvss` acceptance: the real binary, with the reference vectors
//! of `$PATCHFLOW_CORPUS/cvss/*.tsv` on stdin, prints exactly the score and
//! severity of every line, and refuses malformed vectors (a missing base
//! metric, a repeated metric, an unknown metric or value) with a message
//! that names the problem and no score (case OC-09).
//!
//! Output contract of the command: one `<score> <SEVERITY> <version>
//! <vector>` line on stdout per scored vector, in input order; one
//! `error: <vector>: <reason>` line on stderr per refused vector; exit
//! status 1 when any vector was refused, else 0.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `patchflow cvss` with `input` on stdin; returns (exit code, stdout,
/// stderr).
fn run_cvss(input: &str) -> (Option<i32>, String, String) {
    let mut child = Command::new(tests::patchflow_bin())
        .arg("cvss")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn patchflow cvss");
    let mut stdin = child.stdin.take().expect("stdin of patchflow cvss");
    // Write from another thread: the child's stdout pipe would fill up
    // while we are still writing thousands of lines.
    let input = input.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("wait for patchflow cvss");
    writer
        .join()
        .expect("stdin writer thread")
        .expect("write vectors to stdin");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Feeds every vector of a reference file (`vector<TAB>score<TAB>severity`,
/// corpus/cvss/SOURCES.md) to the binary and compares line by line.
fn check_reference_file(file: &str, want_lines: usize) {
    let Some(corpus) = testkit::corpus() else {
        return;
    };
    let text = std::fs::read_to_string(corpus.join("cvss").join(file))
        .unwrap_or_else(|e| panic!("read {file}: {e}"));
    let rows: Vec<(&str, &str, &str)> = text
        .lines()
        .enumerate()
        .map(|(n, line)| match line.split('\t').collect::<Vec<_>>()[..] {
            [vector, score, severity] => (vector, score, severity),
            _ => panic!("{file}:{}: not three tab-separated columns", n + 1),
        })
        .collect();
    assert_eq!(rows.len(), want_lines, "{file}: line count");
    let input: String = rows.iter().map(|(v, _, _)| format!("{v}\n")).collect();

    let (code, stdout, stderr) = run_cvss(&input);
    assert_eq!(code, Some(0), "{file}: exit status; stderr:\n{stderr}");
    assert_eq!(stderr, "", "{file}: nothing is refused");
    let printed: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        printed.len(),
        rows.len(),
        "{file}: one output line per vector"
    );

    let mut mismatches = Vec::new();
    for (n, ((vector, score, severity), line)) in rows.iter().zip(&printed).enumerate() {
        let want = format!("{score} {}", severity.to_ascii_uppercase());
        let mut parts = line.splitn(5, ' ');
        let got_score_and_rating = format!(
            "{} {}",
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default()
        );
        let _version = parts.next();
        let _score_type = parts.next();
        let got_vector = parts.next().unwrap_or_default();
        if got_score_and_rating != want || got_vector != *vector {
            mismatches.push(format!(
                "{file}:{}: {vector}: printed {line:?}, want {want} {vector}",
                n + 1
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} lines differ:\n{}",
        mismatches.len(),
        rows.len(),
        mismatches.join("\n")
    );
}

#[test]
fn every_v2_reference_vector_scores_exactly() {
    check_reference_file("vectors-v2.tsv", 729);
}

#[test]
fn every_v3_reference_vector_scores_exactly() {
    check_reference_file("vectors-v3.tsv", 4984);
}

#[test]
fn every_v4_base_reference_vector_scores_exactly() {
    check_reference_file("vectors-v4.tsv", 1058);
}

#[test]
fn every_v4_threat_and_environmental_reference_vector_scores_exactly() {
    check_reference_file("vectors-v4-threat-env.tsv", 906);
}

/// Malformed vectors are refused one by one with a reason naming the
/// problem; the good ones around them still print, in order.
#[test]
fn malformed_vectors_are_refused_by_name() {
    let table: &[(&str, Result<&str, &str>)] = &[
        (
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            Ok("9.8 CRITICAL 3.1 base CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
        ),
        // The crate would score this 0.0: a missing base metric is an error.
        (
            "CVSS:3.1/AV:N/AC:L",
            Err("CVSS 3.1 vector lacks base metric(s): PR, UI, S, C, I, A"),
        ),
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H",
            Err("CVSS 4.0 vector lacks base metric(s): SC, SI, SA"),
        ),
        (
            "AV:N/AC:L/C:P/I:P/A:P",
            Err("CVSS 2.0 vector lacks base metric(s): Au"),
        ),
        (
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/AV:P",
            Err("repeated CVSS 3.1 metric(s): AV"),
        ),
        (
            "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            Err("invalid value \"Q\" for CVSS 3.1 metric AV"),
        ),
        (
            "AV:N/AC:L/Au:X/C:P/I:P/A:P",
            Err("invalid value \"X\" for CVSS 2.0 metric Au"),
        ),
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:Q",
            Err("invalid value \"Q\" for CVSS 4.0 metric E"),
        ),
        (
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/XX:Y",
            Err("unknown CVSS 3.1 metric(s): XX"),
        ),
        // A v4.0 score names the metric groups it counts.
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U",
            Ok(
                "8.1 HIGH 4.0 CVSS-BT CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U",
            ),
        ),
        // Scanner spellings of v2 are normalized, not refused.
        (
            "CVSS2#AV:N/AC:L/Au:N/C:P/I:P/A:P",
            Ok("7.5 HIGH 2.0 base AV:N/AC:L/Au:N/C:P/I:P/A:P"),
        ),
        (
            "(AV:N/AC:L/Au:N/C:P/I:P/A:P)",
            Ok("7.5 HIGH 2.0 base AV:N/AC:L/Au:N/C:P/I:P/A:P"),
        ),
        (
            "CVSS:5.0/AV:N",
            Err("unsupported CVSS version \"5.0\" (supported: 2.0, 3.0, 3.1, 4.0)"),
        ),
        (
            "garbage",
            Err(
                "\"garbage\" is not a CVSS vector: expected METRIC:VALUE components joined by '/', \
                 with a CVSS:3.1/ or CVSS:4.0/ prefix for v3 and v4 (v2: AV:N/AC:L/Au:N/C:P/I:P/A:P)",
            ),
        ),
    ];
    let input: String = table.iter().map(|(v, _)| format!("{v}\n")).collect();
    let (code, stdout, stderr) = run_cvss(&input);
    assert_eq!(code, Some(4), "a refused vector is rejected input (exit 4)");
    let want_out: Vec<&str> = table.iter().filter_map(|(_, w)| w.ok()).collect();
    assert_eq!(stdout.lines().collect::<Vec<_>>(), want_out);
    let want_err: Vec<String> = table
        .iter()
        .filter_map(|(v, w)| w.err().map(|e| format!("error: {v}: {e}")))
        .collect();
    assert_eq!(stderr.lines().collect::<Vec<_>>(), want_err);

    // From the arguments, one refusal alone: exit 1, nothing on stdout.
    let out = Command::new(tests::patchflow_bin())
        .args(["cvss", "CVSS:3.1/AV:N/AC:L"])
        .output()
        .expect("run patchflow cvss");
    assert_eq!(out.status.code(), Some(4));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: CVSS:3.1/AV:N/AC:L: CVSS 3.1 vector lacks base metric(s): PR, UI, S, C, I, A\n"
    );
}

/// Case OC-09: lines 1-4 repeat a metric and get no score, each refusal
/// naming the metric (AV, C, AV, AV); line 5 prints 9.8 CRITICAL.
#[test]
fn oc09_repeated_metrics_get_no_score() {
    let Some(cases) = testkit::cases() else {
        return;
    };
    let text = std::fs::read_to_string(cases.join("OC-09/vectors.txt")).expect("OC-09 vectors");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5);
    let (code, stdout, stderr) = run_cvss(&text);
    assert_eq!(code, Some(4));
    assert_eq!(
        stdout,
        "9.8 CRITICAL 3.1 base CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\n"
    );
    let errors: Vec<&str> = stderr.lines().collect();
    let want = [("3.1", "AV"), ("3.0", "C"), ("2.0", "AV"), ("4.0", "AV")];
    assert_eq!(errors.len(), want.len(), "{stderr}");
    for ((line, error), (version, metric)) in lines.iter().zip(&errors).zip(want) {
        assert_eq!(
            *error,
            format!("error: {line}: repeated CVSS {version} metric(s): {metric}")
        );
    }
}
