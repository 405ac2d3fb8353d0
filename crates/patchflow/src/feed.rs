//! `patchflow feed load FILE --kind kev|epss|csaf|osv`: a feed document
//! through the same loader the ingest feed poller uses
//! ([`ingest::feed::FeedLoader`]): validated whole, stored in the reports
//! object store, then `patch.bulletin.catalog_loaded`, `.kev_added` and
//! `.advisory` as the document says. A broken document publishes nothing.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use ingest::feed::{FeedKind, FeedLoader, LoadOptions, LoadOutcome};

use crate::cli::{FeedCommand, FeedKindArg};
use crate::commands::{connect_cli, parse_instant, with_discovered_nats};
use crate::config::Config;

/// Runs a `feed` command.
///
/// # Errors
/// The file cannot be read, NATS cannot be reached, storing or publishing
/// fails, or the document is rejected (with the reason).
pub async fn run(cfg: &Config, cmd: FeedCommand) -> Result<ExitCode> {
    match cmd {
        FeedCommand::Load {
            file,
            kind,
            score_date,
        } => load(cfg, &file, kind, score_date.as_deref()).await,
    }
}

async fn load(
    cfg: &Config,
    file: &Path,
    kind: FeedKindArg,
    score_date: Option<&str>,
) -> Result<ExitCode> {
    let kind = match kind {
        FeedKindArg::Kev => FeedKind::Kev,
        FeedKindArg::Epss => FeedKind::Epss,
        FeedKindArg::Csaf => FeedKind::Csaf,
        FeedKindArg::Osv => FeedKind::Osv,
    };
    let epss_score_date = score_date
        .map(parse_instant)
        .transpose()
        .context("--score-date")?;
    // `-` reads stdin, as `patchflow parse -` does; its source is `stdin`.
    let (body, source) = if file == Path::new("-") {
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut body)
            .context("read stdin")?;
        (body, "stdin".to_owned())
    } else {
        let body = std::fs::read(file).with_context(|| format!("read {}", file.display()))?;
        let source = std::fs::canonicalize(file)
            .unwrap_or_else(|_| file.to_path_buf())
            .display()
            .to_string();
        (body, source)
    };
    // For the hint on a rejection: what the document looks like.
    let looks_like = feeds::guess::guess_kind(&body).filter(|k| *k != kind);
    let cfg = with_discovered_nats(cfg.clone());
    let bus = connect_cli(&cfg, "patchflow-feed").await?;
    let loader = FeedLoader::new(bus.clone(), cfg.clock.clock()).await?;
    let outcome = loader
        .load(
            kind,
            &source,
            body,
            LoadOptions {
                epss_score_date,
                ..LoadOptions::default()
            },
        )
        .await?;
    let _ = bus.flush().await;
    match outcome {
        LoadOutcome::Unchanged { digest } => {
            println!(
                "{kind} {source}: unchanged since the last load (sha256 {digest}); nothing published"
            );
        }
        LoadOutcome::Rejected { reason } => {
            eprintln!("error: {kind} {source} rejected: {reason}");
            if let Some(other) = looks_like {
                eprintln!("hint: it looks like a {other} document: --kind {other}");
            }
            return Ok(ExitCode::from(crate::commands::EXIT_REJECTED));
        }
        LoadOutcome::Loaded(r) => {
            let mut line = format!(
                "{kind} {source}: version {}, {} entries, stored as {}",
                r.version, r.entries, r.object
            );
            if r.catalog.is_some() {
                line.push_str("; catalog_loaded published");
            }
            if kind == FeedKind::Kev {
                if r.kev_baseline {
                    line.push_str("; first KEV catalog: the baseline, no kev_added");
                } else {
                    line.push_str(&format!("; {} kev_added", r.kev_added.len()));
                }
            }
            if matches!(kind, FeedKind::Csaf | FeedKind::Osv) {
                line.push_str(&format!(
                    "; {} advisories published, {} unchanged",
                    r.advisories, r.advisories_unchanged
                ));
            }
            println!("{line}");
            for cve in &r.kev_added {
                println!("  kev_added {cve}");
            }
            for w in &r.warnings {
                eprintln!("warning: {w}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
