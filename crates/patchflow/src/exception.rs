//! `patchflow exception add | revoke`: risk acceptances, published as
//! events (`patch.exception.granted` / `.revoked`) so every one is in the
//! audit trail. Prioritize applies them (decisions carry the
//! `exception_id`, schedule leaves the findings out, report does not count
//! them as non-compliant) and publishes `patch.exception.expired` at
//! `expires_at`, when the findings come back with their original SLA clock.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use events::{Event, ExceptionGranted, ExceptionRevoked, ExceptionTarget, Payload, Service, spec};
use uuid::Uuid;

use crate::cli::ExceptionCommand;
use crate::commands::{connect_cli, with_discovered_nats};
use crate::config::Config;

/// Parses an exception target: a finding id (UUID); a finding's versioned
/// fingerprint (`<source>:v<N>:<asset>:<locator>`, `docs/finding-identity.md`),
/// whose finding id is [`ingest::normalize::finding_id`] of it, as ingest
/// derives it; or a CVE id (`CVE-YYYY-NNNN…`, any case; stored upper case).
///
/// # Errors
/// When it is none of them.
pub fn parse_target(s: &str) -> Result<ExceptionTarget> {
    let s = s.trim();
    if let Ok(finding_id) = s.parse::<Uuid>() {
        return Ok(ExceptionTarget::Finding { finding_id });
    }
    let upper = s.to_ascii_uppercase();
    let mut parts = upper.splitn(3, '-');
    let is_cve = matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some("CVE"), Some(year), Some(num))
            if year.len() == 4
                && year.bytes().all(|b| b.is_ascii_digit())
                && num.len() >= 4
                && num.bytes().all(|b| b.is_ascii_digit())
    );
    if is_cve {
        return Ok(ExceptionTarget::Cve { cve: upper });
    }
    let mut fields = s.split(':');
    let is_fingerprint = fields.next().is_some_and(|source| !source.is_empty())
        && fields
            .next()
            .and_then(|v| v.strip_prefix('v'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && fields.next().is_some_and(|asset| !asset.is_empty());
    if is_fingerprint {
        return Ok(ExceptionTarget::Finding {
            finding_id: ingest::normalize::finding_id(s),
        });
    }
    bail!(
        "{s:?} is neither a finding id (a UUID), a fingerprint (<source>:v<N>:<asset>:…) nor a \
         CVE id (CVE-YYYY-NNNN)"
    )
}

/// The longest risk acceptance granted at once: 366 days. An accepted risk
/// is reviewed at least yearly (the practice of PCI DSS 4.0 requirement
/// 12.3.1's targeted risk analyses and of most exception policies); a
/// longer one is renewed, which puts a new decision in the audit trail.
pub const MAX_EXCEPTION_DAYS: i64 = 366;

/// Parses `--expires` relative to `now` (UTC): an RFC 3339 instant; a date
/// `YYYY-MM-DD`, meaning its start (00:00 UTC, as `--as-of` reads dates);
/// or `+N` followed by `d` (days), `h` (hours) or `w` (weeks) from now. The
/// result must be after `now` and at most [`MAX_EXCEPTION_DAYS`] away.
///
/// # Errors
/// An unreadable value, a zero or negative duration, an instant not after
/// `now`, or one more than [`MAX_EXCEPTION_DAYS`] away.
pub fn parse_expiry(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let s = s.trim();
    let at = if let Some(rel) = s.strip_prefix('+') {
        let (n, unit) = rel.split_at(rel.len().saturating_sub(1));
        let n: i64 = n.parse().ok().filter(|n| *n > 0).with_context(|| {
            format!("--expires {s:?}: expected +N followed by d, h or w, with N > 0")
        })?;
        let delta = match unit {
            "d" => TimeDelta::try_days(n),
            "h" => TimeDelta::try_hours(n),
            "w" => TimeDelta::try_weeks(n),
            _ => bail!("--expires {s:?}: the unit must be d (days), h (hours) or w (weeks)"),
        };
        delta
            .and_then(|d| now.checked_add_signed(d))
            .with_context(|| format!("--expires {s:?} is too far in the future"))?
    } else if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        t.with_timezone(&Utc)
    } else if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .with_context(|| format!("--expires {s:?}: no midnight on that date"))?
    } else {
        bail!(
            "--expires {s:?} is neither RFC 3339 (2026-12-31T00:00:00Z), a date (2026-12-31) nor +Nd / +Nh / +Nw"
        );
    };
    if at <= now {
        bail!(
            "--expires {} is not in the future (now is {})",
            rfc3339(at),
            rfc3339(now)
        );
    }
    let longest = now + TimeDelta::days(MAX_EXCEPTION_DAYS);
    if at > longest {
        bail!(
            "--expires {} is more than {MAX_EXCEPTION_DAYS} days away (the latest is {}): an \
             accepted risk is reviewed at least yearly; grant it until then and renew it",
            rfc3339(at),
            rfc3339(longest)
        );
    }
    Ok(at)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn describe(target: &ExceptionTarget) -> String {
    match target {
        ExceptionTarget::Finding { finding_id } => format!("finding {finding_id}"),
        ExceptionTarget::Cve { cve } => format!("every finding with {cve}"),
    }
}

/// What the exceptions stream says about one exception.
#[derive(Debug, Default)]
struct History {
    granted: Option<ExceptionGranted>,
    ended: Option<String>,
}

/// Reads the exceptions stream: every exception's grant and end, by id.
async fn histories(bus: &bus::Bus) -> Result<std::collections::BTreeMap<Uuid, History>> {
    use futures::StreamExt as _;
    let mut out: std::collections::BTreeMap<Uuid, History> = std::collections::BTreeMap::new();
    let last = bus.stream_last_sequence(&spec::EXCEPTIONS).await?;
    if last == 0 {
        return Ok(out);
    }
    let messages = bus::consume::replay(bus, &spec::EXCEPTIONS, 1).await?;
    let mut messages = std::pin::pin!(messages);
    while let Some(m) = messages.next().await {
        let m = m?;
        if let Ok(e) = Event::from_json(&m.payload) {
            match e.data {
                Payload::ExceptionGranted(g) => {
                    let id = g.exception_id;
                    out.entry(id).or_default().granted = Some(g);
                }
                Payload::ExceptionRevoked(r) => {
                    out.entry(r.exception_id).or_default().ended =
                        Some(format!("revoked at {}", rfc3339(r.revoked_at)));
                }
                Payload::ExceptionExpired(x) => {
                    out.entry(x.exception_id).or_default().ended =
                        Some(format!("expired at {}", rfc3339(x.expired_at)));
                }
                _ => {}
            }
        }
        if m.stream_sequence >= last {
            break;
        }
    }
    Ok(out)
}

/// The exceptions granted for exactly `target` that are still active at
/// `now` (not revoked, not expired, `expires_at` after `now`).
fn active_for<'a>(
    all: &'a std::collections::BTreeMap<Uuid, History>,
    target: &ExceptionTarget,
    now: DateTime<Utc>,
) -> Vec<&'a ExceptionGranted> {
    all.values()
        .filter(|h| h.ended.is_none())
        .filter_map(|h| h.granted.as_ref())
        .filter(|g| &g.target == target && g.expires_at > now)
        .collect()
}

/// Runs `patchflow exception …`.
///
/// # Errors
/// A bad argument, no NATS, a failed publish; for `revoke`, an exception
/// that was never granted or already ended.
pub async fn run(cfg: &Config, cmd: ExceptionCommand) -> Result<ExitCode> {
    let cfg = with_discovered_nats(cfg.clone());
    let now = cfg.clock.clock().now();
    match cmd {
        ExceptionCommand::Add {
            target,
            owner,
            reason,
            expires,
            by,
        } => {
            let parsed = parse_target(&target)?;
            let expires_at = parse_expiry(&expires, now)?;
            if owner.trim().is_empty() || reason.trim().is_empty() {
                bail!(
                    "--owner and --reason must not be empty: every accepted risk has an owner and a reason"
                );
            }
            // NATS first: unreachable, the command fails once, within the
            // CLI's connect timeout.
            let bus = connect_cli(&cfg, "patchflow-cli").await?;
            // Only to say what the exception covers now.
            let named = crate::commands::open_projection(&cfg, false)
                .await
                .and_then(|p| Ok(p.findings_named(target.trim())?));
            let target = parsed;
            let earlier = histories(&bus).await?;
            let exception_id = Uuid::now_v7();
            let mut event = Event::new(
                exception_id,
                Service::Cli,
                now,
                ExceptionGranted {
                    exception_id,
                    target: target.clone(),
                    owner: owner.clone(),
                    reason,
                    granted_by: by,
                    granted_at: now,
                    expires_at,
                },
            );
            event.traceparent = Some(bus::trace::child(None));
            bus.publish(&event).await?;
            println!(
                "granted exception {exception_id} for {} until {} (owner {owner})",
                describe(&target),
                rfc3339(expires_at)
            );
            for g in active_for(&earlier, &target, now) {
                eprintln!(
                    "note: {} is also covered by exception {} (owner {}, until {}); revoke it \
                     if this one replaces it",
                    describe(&target),
                    g.exception_id,
                    g.owner,
                    rfc3339(g.expires_at)
                );
            }
            match named {
                Ok(found) if found.iter().any(|f| f.open) => {
                    let open = found.iter().filter(|f| f.open).count();
                    println!("it covers {open} open finding(s) the report knows of now");
                }
                Ok(_) => eprintln!(
                    "warning: {} open in the report projection yet: the exception applies to \
                     findings observed later",
                    match &target {
                        ExceptionTarget::Finding { finding_id } =>
                            format!("finding {finding_id} is not"),
                        ExceptionTarget::Cve { cve } => format!("no finding with {cve} is"),
                    }
                ),
                Err(e) => eprintln!(
                    "warning: could not check which findings {} covers: {e:#}",
                    describe(&target)
                ),
            }
        }
        ExceptionCommand::Revoke {
            exception_id,
            reason,
            by,
        } => {
            if reason.trim().is_empty() || by.trim().is_empty() {
                bail!(
                    "--reason and --by must not be empty: the audit trail says who revoked an accepted risk and why"
                );
            }
            let bus = connect_cli(&cfg, "patchflow-cli").await?;
            let mut all = histories(&bus).await?;
            let h = all.remove(&exception_id).unwrap_or_default();
            let Some(granted) = h.granted else {
                bail!("no exception {exception_id} was granted");
            };
            if let Some(ended) = h.ended {
                bail!("exception {exception_id} already ended: {ended}");
            }
            let mut event = Event::new(
                Uuid::now_v7(),
                Service::Cli,
                now,
                ExceptionRevoked {
                    exception_id,
                    target: granted.target.clone(),
                    revoked_by: by,
                    revoked_at: now,
                    reason,
                },
            );
            event.traceparent = Some(bus::trace::child(None));
            bus.publish(&event).await?;
            println!(
                "revoked exception {exception_id} for {}",
                describe(&granted.target)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-03-01T10:00:00Z";

    /// `Ok(rfc3339)` or `Err(substring of the message)`.
    fn check(input: &str, want: Result<&str, &str>) {
        let now: DateTime<Utc> = NOW.parse().unwrap();
        match (parse_expiry(input, now), want) {
            (Ok(at), Ok(w)) => assert_eq!(rfc3339(at), w, "{input}"),
            (Err(e), Err(w)) => assert!(format!("{e:#}").contains(w), "{input}: {e:#}"),
            (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn expiry_forms() {
        check("2026-04-01T12:30:00Z", Ok("2026-04-01T12:30:00Z"));
        check("2026-04-01T14:30:00+02:00", Ok("2026-04-01T12:30:00Z"));
        check("2026-04-01", Ok("2026-04-01T00:00:00Z"));
        check("+30d", Ok("2026-03-31T10:00:00Z"));
        check("+4h", Ok("2026-03-01T14:00:00Z"));
        check("+2w", Ok("2026-03-15T10:00:00Z"));
        check("+365d", Ok("2027-03-01T10:00:00Z"));
        check("+366d", Ok("2027-03-02T10:00:00Z"));
        check(
            "+367d",
            Err("is more than 366 days away (the latest is 2027-03-02T10:00:00Z)"),
        );
        check("+100000w", Err("is more than 366 days away"));
        check("2030-01-01", Err("is more than 366 days away"));
        check("+0d", Err("with N > 0"));
        check("+-3d", Err("with N > 0"));
        check(
            "+3m",
            Err("the unit must be d (days), h (hours) or w (weeks)"),
        );
        check("2026-02-28", Err("is not in the future"));
        check(NOW, Err("is not in the future"));
        check("next week", Err("is neither RFC 3339"));
    }

    #[test]
    fn active_exceptions_of_a_target() {
        let now: DateTime<Utc> = NOW.parse().unwrap();
        let cve = |c: &str| ExceptionTarget::Cve { cve: c.to_owned() };
        let grant = |n: u128, target: ExceptionTarget, expires: &str| ExceptionGranted {
            exception_id: Uuid::from_u128(n),
            target,
            owner: "ops".into(),
            reason: "r".into(),
            granted_by: "alice".into(),
            granted_at: now,
            expires_at: expires.parse().unwrap(),
        };
        let mut all = std::collections::BTreeMap::new();
        for (n, target, expires, ended) in [
            (1, cve("CVE-2006-1015"), "2026-04-01T00:00:00Z", None),
            (
                2,
                cve("CVE-2006-1015"),
                "2026-05-01T00:00:00Z",
                Some("revoked"),
            ),
            (3, cve("CVE-2006-1015"), "2026-02-01T00:00:00Z", None),
            (4, cve("CVE-2024-6387"), "2026-04-01T00:00:00Z", None),
        ] {
            all.insert(
                Uuid::from_u128(n),
                History {
                    granted: Some(grant(n, target, expires)),
                    ended: ended.map(str::to_owned),
                },
            );
        }
        let ids: Vec<Uuid> = active_for(&all, &cve("CVE-2006-1015"), now)
            .iter()
            .map(|g| g.exception_id)
            .collect();
        // Not the revoked one, not the one past its expiry, not another CVE's.
        assert_eq!(ids, [Uuid::from_u128(1)]);
        assert!(active_for(&all, &cve("CVE-2023-44487"), now).is_empty());
    }

    #[test]
    fn targets() {
        let id = "0194f2a0-0000-7000-8000-000000000001";
        let table: &[(&str, Result<ExceptionTarget, &str>)] = &[
            (
                id,
                Ok(ExceptionTarget::Finding {
                    finding_id: id.parse().unwrap(),
                }),
            ),
            (
                "cve-2024-6387",
                Ok(ExceptionTarget::Cve {
                    cve: "CVE-2024-6387".to_owned(),
                }),
            ),
            (
                " CVE-2023-44487 ",
                Ok(ExceptionTarget::Cve {
                    cve: "CVE-2023-44487".to_owned(),
                }),
            ),
            (
                "nessus:v1:web-01:57608:445/tcp",
                Ok(ExceptionTarget::Finding {
                    finding_id: ingest::normalize::finding_id("nessus:v1:web-01:57608:445/tcp"),
                }),
            ),
            ("CVE-24-6387", Err("neither a finding id")),
            ("web-01", Err("neither a finding id")),
            ("nessus:1:web-01:57608", Err("neither a finding id")),
            ("nessus:v:web-01", Err("neither a finding id")),
            ("garbage!!", Err("neither a finding id")),
        ];
        // The id `patchflow parse` prints for that fingerprint of the corpus'
        // Nessus report, by the same derivation.
        assert_eq!(
            parse_target("nessus:v1:qa3app01:57608:445/tcp").unwrap(),
            ExceptionTarget::Finding {
                finding_id: "2c45764f-dea6-50f9-b0c6-942c578b7348".parse().unwrap()
            }
        );
        for (input, want) in table {
            match (parse_target(input), want) {
                (Ok(t), Ok(w)) => assert_eq!(&t, w, "{input}"),
                (Err(e), Err(w)) => assert!(e.to_string().contains(w), "{input}: {e}"),
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }
}
