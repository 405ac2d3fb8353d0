//! The bus adapter of report: one ordered replay per stream, from the
//! projection's own position + 1, feeding a single writer thread that owns
//! the SQLite file and applies events in batches (one transaction each).
//!
//! The position lives in the projection itself, in the same transaction as
//! the effect, so a crash never loses or doubles an event, and deleting the
//! file rebuilds everything from sequence 1.

use std::path::{Path, PathBuf};

use bus::{Bus, BusError};
use events::Event;
use events::spec::{self, StreamSpec};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{Projection, ReportError};

/// Why the report service stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReportServiceError {
    /// The projection could not be opened or written.
    #[error(transparent)]
    Projection(#[from] ReportError),
    /// The bus failed in a way retries do not cure.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The writer thread stopped unexpectedly.
    #[error("projection writer stopped: {0}")]
    Writer(String),
}

struct Item {
    stream: String,
    seq: u64,
    event: Event,
}

/// The report service: build it, then [`ReportService::run`] it.
#[derive(Debug, Clone)]
pub struct ReportService {
    bus: Bus,
    db: PathBuf,
}

impl ReportService {
    /// A report service writing the projection at `db`.
    pub fn new(bus: Bus, db: impl Into<PathBuf>) -> Self {
        ReportService { bus, db: db.into() }
    }

    /// Follows every stream until `token` fires; applied events are durable
    /// in the projection before the next batch is read.
    ///
    /// # Errors
    /// [`ReportServiceError`] when the projection cannot be opened or written.
    pub async fn run(self, token: CancellationToken) -> Result<(), ReportServiceError> {
        let (positions, tx, writer) = start_writer(&self.db)?;
        let mut tasks = tokio::task::JoinSet::new();
        for stream in spec::STREAMS {
            let name = stream.name(self.bus.namespace());
            let from = positions.get(&name).copied().unwrap_or(0) + 1;
            let (bus, tx, token) = (self.bus.clone(), tx.clone(), token.clone());
            tasks.spawn(async move { follow(bus, stream, from, tx, token).await });
        }
        drop(tx);
        while tasks.join_next().await.is_some() {}
        tokio::task::spawn_blocking(move || writer.join())
            .await
            .map_err(|e| ReportServiceError::Writer(e.to_string()))?
            .map_err(|_| ReportServiceError::Writer("writer thread panicked".into()))??;
        Ok(())
    }
}

/// Opens the projection on its own thread; returns the stored positions, the
/// sender feeding it and the thread handle (which returns the first write error).
#[allow(clippy::type_complexity)]
fn start_writer(
    db: &Path,
) -> Result<
    (
        std::collections::BTreeMap<String, u64>,
        tokio::sync::mpsc::Sender<Item>,
        std::thread::JoinHandle<Result<(), ReportError>>,
    ),
    ReportServiceError,
> {
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| ReportServiceError::Writer(format!("create {}: {e}", dir.display())))?;
    }
    let (mut projection, set_aside) = Projection::open_for_replay(db)?;
    if let Some(old) = set_aside {
        warn!(
            projection = %db.display(),
            old = %old.display(),
            "the projection was written by another patchflow version: set aside, rebuilding from the streams"
        );
    }
    let positions = projection.positions()?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Item>(4096);
    let handle = std::thread::Builder::new()
        .name("report-writer".into())
        .spawn(move || -> Result<(), ReportError> {
            while let Some(first) = rx.blocking_recv() {
                let mut batch = vec![first];
                while batch.len() < 1000 {
                    match rx.try_recv() {
                        Ok(item) => batch.push(item),
                        Err(_) => break,
                    }
                }
                projection
                    .apply_batch(batch.iter().map(|i| (i.stream.as_str(), i.seq, &i.event)))?;
            }
            Ok(())
        })
        .map_err(|e| ReportServiceError::Writer(e.to_string()))?;
    Ok((positions, tx, handle))
}

/// Reads `stream` from `from` until cancelled, handing every message to the
/// writer ([`bus::consume::follow`] re-creates the replay after errors and
/// stalls).
async fn follow(
    bus: Bus,
    stream: StreamSpec,
    from: u64,
    tx: tokio::sync::mpsc::Sender<Item>,
    token: CancellationToken,
) {
    let name = stream.name(bus.namespace());
    let mut messages = bus::consume::follow(&bus, stream, from, token.clone());
    loop {
        let m = tokio::select! {
            () = token.cancelled() => return,
            m = messages.recv() => m,
        };
        match m {
            Some(m) => {
                if !forward(&tx, &name, &m).await {
                    return;
                }
            }
            None => return,
        }
    }
}

/// Decodes a replayed message and hands it to the writer; an undecodable
/// one is logged and skipped (the services dead-letter it). Returns `false`
/// when the writer is gone.
async fn forward(
    tx: &tokio::sync::mpsc::Sender<Item>,
    stream: &str,
    m: &bus::consume::RawMessage,
) -> bool {
    match Event::from_json(&m.payload) {
        Ok(event) => tx
            .send(Item {
                stream: stream.to_owned(),
                seq: m.stream_sequence,
                event,
            })
            .await
            .is_ok(),
        Err(e) => {
            warn!(stream, seq = m.stream_sequence, error = %e, "undecodable message not projected");
            true
        }
    }
}

/// Brings the projection at `db` up to the current end of every stream, then
/// returns: what a one-shot `patchflow report …` call does before it queries.
///
/// # Errors
/// [`ReportServiceError`] when the projection or the bus fails.
pub async fn catch_up(bus: &Bus, db: &Path) -> Result<u64, ReportServiceError> {
    let (positions, tx, writer) = start_writer(db)?;
    let mut total = 0u64;
    for stream in spec::STREAMS {
        let name = stream.name(bus.namespace());
        let last = bus.stream_last_sequence(&stream).await?;
        let from = positions.get(&name).copied().unwrap_or(0) + 1;
        if from > last {
            continue;
        }
        let messages = bus::consume::replay(bus, &stream, from).await?;
        let mut messages = std::pin::pin!(messages);
        while let Some(m) = messages.next().await {
            let m = m?;
            if !forward(&tx, &name, &m).await {
                break;
            }
            total += 1;
            if m.stream_sequence >= last {
                break;
            }
        }
    }
    drop(tx);
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .map_err(|e| ReportServiceError::Writer(e.to_string()))?
        .map_err(|_| ReportServiceError::Writer("writer thread panicked".into()))??;
    if total > 0 {
        info!(events = total, "projection caught up");
    } else {
        debug!("projection already up to date");
    }
    Ok(total)
}
