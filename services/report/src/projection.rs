//! The projection: one SQLite file holding every applied event (hash-chained,
//! in application order), the last applied sequence of every stream, and the
//! read models the queries in [`crate::query`] answer from.
//!
//! # Read models
//!
//! | table | fed by | merge rule |
//! |---|---|---|
//! | `asset_ids`, `asset_attributes` | `asset.upserted`, the asset snapshot of `finding.observed` / `finding.prioritized`, hosts of `scan.completed` and `agent.result` | per attribute, the value of the event with the latest `time` (ties: greater event id) wins; a missing value never erases a known one |
//! | `findings`, `finding_intervals` | `finding.observed`, `finding.resolved`, `finding.prioritized` (one stream, so stream order) | see below |
//! | `agent_results`, `jobs` | `agent.result`, `agent.job` | insert only |
//! | `bundles`, `bundle_rings` | `bundle.planned` / `.scheduled` / `.completed` / `.halted` (one stream) | the bundle's status is its last lifecycle event |
//! | `waves` | `deployment.wave.*` (one stream) | keyed by bundle, ring, wave |
//! | `validations`, `rollbacks`, `dead_letters` | their streams | insert only (a rollback completion closes the oldest open request of its ring) |
//! | `exceptions` | `exception.granted` / `.revoked` / `.expired` (one stream) | a grant inserts `[granted_at, expires_at)`; a revocation or expiry sets `ended_at` (the earliest end wins) |
//!
//! Findings keep their history as open intervals `[opened_at, resolved_at)`:
//! the first observation opens one at `first_observed_at` (the SLA clock
//! start); `finding.resolved` closes the open one at `resolved_at`; an
//! observation with `observed_at` after the last resolution opens a new one at
//! `observed_at` (the finding came back). An observation at or before the last
//! resolution (an old report re-imported) reopens nothing. A resolution of a
//! finding never observed changes no read model (the event is still stored).
//! The latest `finding.prioritized` gives the finding's priority, `due_at`,
//! CVSS base score and policy version.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use events::{
    AgentJob, AgentResult, Asset, BundleCompleted, BundleHalted, BundlePlanned, BundleScheduled,
    DeadLettered, Event, ExceptionGranted, ExceptionTarget, FindingObserved, FindingPrioritized,
    FindingResolved, JobAction, JobStatus, Payload, RollbackCompleted, RollbackRequested,
    ValidationFailed, ValidationPassed, WaveCompleted, WaveHalted, WaveKind, WaveStarted,
};

use crate::codec::{to_i64, to_u64, ts};
use crate::error::{ReportError, SqlContext};

/// The layout version this build writes and reads. A file with another
/// version is refused by [`Projection::open`] ([`ReportError::SchemaVersion`])
/// and set aside and rebuilt by replay in
/// [`Projection::open_for_replay`]. Any change to the schema text bumps it
/// (a test pins the schema's digest to it).
pub const SCHEMA_VERSION: i64 = 3;

/// How long a statement waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The hash a chain starts from: 32 zero bytes.
const GENESIS: [u8; 32] = [0; 32];

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS stream_positions (
    stream   TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    position   INTEGER PRIMARY KEY,
    event_id   TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    source     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    time       TEXT NOT NULL,
    stream     TEXT NOT NULL,
    stream_seq INTEGER NOT NULL,
    bundle_id  TEXT,
    json       TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_bundle ON events (bundle_id, time, position);
CREATE INDEX IF NOT EXISTS events_by_type ON events (event_type);
CREATE INDEX IF NOT EXISTS events_by_subject ON events (subject, position);
CREATE TABLE IF NOT EXISTS chain_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL,
    hash     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS asset_ids (asset_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS asset_attributes (
    asset_id    TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    stamp_time  TEXT NOT NULL,
    stamp_event TEXT NOT NULL,
    PRIMARY KEY (asset_id, name)
);
CREATE TABLE IF NOT EXISTS findings (
    finding_id        TEXT PRIMARY KEY,
    fingerprint       TEXT NOT NULL,
    asset_id          TEXT NOT NULL,
    scanner           TEXT NOT NULL,
    check_id          TEXT NOT NULL,
    check_name        TEXT NOT NULL,
    port              INTEGER NOT NULL,
    protocol          TEXT NOT NULL,
    severity          TEXT,
    cves              TEXT NOT NULL,
    first_observed_at TEXT NOT NULL,
    last_observed_at  TEXT NOT NULL,
    status            TEXT NOT NULL,
    resolved_at       TEXT,
    priority          TEXT,
    due_at            TEXT,
    sla_hours         INTEGER,
    cvss_base_score   REAL,
    cvss_vector       TEXT,
    policy_version    TEXT,
    prioritized_at    TEXT
);
CREATE INDEX IF NOT EXISTS findings_by_asset ON findings (asset_id);
CREATE TABLE IF NOT EXISTS finding_intervals (
    finding_id  TEXT NOT NULL,
    opened_at   TEXT NOT NULL,
    resolved_at TEXT,
    PRIMARY KEY (finding_id, opened_at)
);
CREATE TABLE IF NOT EXISTS jobs (
    job_id     TEXT PRIMARY KEY,
    bundle_id  TEXT NOT NULL,
    ring       TEXT NOT NULL,
    wave       INTEGER NOT NULL,
    host       TEXT NOT NULL,
    action     TEXT NOT NULL,
    issued_at  TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agent_results (
    event_id    TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL,
    bundle_id   TEXT NOT NULL,
    ring        TEXT NOT NULL,
    wave        INTEGER NOT NULL,
    host        TEXT NOT NULL,
    action      TEXT NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT,
    rebooted    INTEGER NOT NULL,
    finished_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS agent_results_by_host ON agent_results (host, action, status, finished_at);
CREATE TABLE IF NOT EXISTS bundles (
    bundle_id     TEXT PRIMARY KEY,
    digest        TEXT,
    scan_id       TEXT,
    priority      TEXT,
    deadline      TEXT,
    sla_at_risk   INTEGER,
    planned_at    TEXT,
    plan_rings    TEXT NOT NULL DEFAULT '[]',
    hosts         INTEGER NOT NULL DEFAULT 0,
    remediations  INTEGER NOT NULL DEFAULT 0,
    manual_tasks  INTEGER NOT NULL DEFAULT 0,
    approval_rings TEXT NOT NULL DEFAULT '[]',
    approved_by   TEXT,
    approved_at   TEXT,
    status        TEXT NOT NULL,
    status_at     TEXT NOT NULL,
    halted_ring   TEXT,
    halt_reason   TEXT
);
CREATE TABLE IF NOT EXISTS bundle_rings (
    bundle_id          TEXT NOT NULL,
    ring               TEXT NOT NULL,
    ring_index         INTEGER NOT NULL,
    last_ring          INTEGER NOT NULL,
    scheduled_at       TEXT NOT NULL,
    window_opens_at    TEXT NOT NULL,
    window_closes_at   TEXT NOT NULL,
    hosts              INTEGER NOT NULL,
    canary_hosts       INTEGER NOT NULL,
    batch_percent      INTEGER NOT NULL,
    max_failed_percent REAL NOT NULL,
    PRIMARY KEY (bundle_id, ring)
);
CREATE TABLE IF NOT EXISTS waves (
    bundle_id      TEXT NOT NULL,
    ring           TEXT NOT NULL,
    wave           INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    hosts          INTEGER NOT NULL,
    state          TEXT NOT NULL,
    started_at     TEXT,
    results_due_at TEXT,
    ended_at       TEXT,
    succeeded      INTEGER,
    failed         INTEGER,
    ring_attempted INTEGER,
    ring_failed    INTEGER,
    never_started  INTEGER,
    reason         TEXT,
    PRIMARY KEY (bundle_id, ring, wave)
);
CREATE TABLE IF NOT EXISTS validations (
    event_id          TEXT PRIMARY KEY,
    bundle_id         TEXT NOT NULL,
    ring              TEXT NOT NULL,
    wave              INTEGER NOT NULL,
    verdict           TEXT NOT NULL,
    last_wave_in_ring INTEGER,
    checks            INTEGER NOT NULL,
    checks_failed     INTEGER NOT NULL,
    readback          INTEGER NOT NULL,
    readback_missing  INTEGER NOT NULL,
    reasons           TEXT NOT NULL,
    at                TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS validations_by_bundle ON validations (bundle_id, at);
CREATE TABLE IF NOT EXISTS rollbacks (
    id              INTEGER PRIMARY KEY,
    bundle_id       TEXT NOT NULL,
    ring            TEXT NOT NULL,
    wave            INTEGER,
    hosts           TEXT NOT NULL,
    reason          TEXT,
    requested_at    TEXT,
    requested_event TEXT UNIQUE,
    completed_at    TEXT,
    completed_event TEXT UNIQUE,
    succeeded       INTEGER,
    failed          INTEGER
);
CREATE TABLE IF NOT EXISTS exceptions (
    exception_id TEXT PRIMARY KEY,
    finding_id   TEXT,
    cve          TEXT,
    owner        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    granted_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    ended_at     TEXT
);
CREATE TABLE IF NOT EXISTS dead_letters (
    event_id        TEXT PRIMARY KEY,
    at              TEXT NOT NULL,
    service         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    subject         TEXT NOT NULL,
    stream          TEXT NOT NULL,
    stream_sequence INTEGER NOT NULL,
    delivered       INTEGER NOT NULL,
    payload_text    TEXT,
    payload_base64  TEXT
);
"#;

/// What [`Projection::apply`] did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Stored, projected, and the stream position advanced.
    Stored {
        /// Its application-order position (1-based) in the audit chain.
        position: u64,
    },
    /// Nothing changed except, for [`SkipReason::DuplicateId`], the stream
    /// position.
    Skipped(SkipReason),
}

/// Why an event was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Its stream sequence is at or below the stream's position: a
    /// redelivery or a replay overlap. The position is unchanged.
    Sequence,
    /// An event with the same id was already applied (a republish beyond
    /// JetStream's duplicate window). The stream position advances to it.
    DuplicateId,
}

/// The result of [`Projection::verify_chain`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChainReport {
    /// Event rows checked.
    pub rows: u64,
    /// Lower-case hex SHA-256 of the last row as recomputed (`None` when the
    /// projection is empty). Record it outside the file to also detect a
    /// rewrite of the whole chain.
    pub head: Option<String>,
    /// The first row that does not fit the chain, if any.
    pub broken: Option<BrokenLink>,
}

impl ChainReport {
    /// True when every row, and the recorded head, fit the chain.
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// Where and how the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BrokenLink {
    /// Application-order position of the first bad row (for a removed tail:
    /// the first missing position).
    pub position: u64,
    /// The row's event id, when the row exists.
    pub event_id: Option<String>,
    /// What does not fit (`hash mismatch`, `position 3 missing`, …).
    pub problem: String,
}

/// The report service's SQLite projection of every stream.
///
/// Open it once per process; queries ([`crate::query`]) take `&self`, updates
/// take `&mut self`.
pub struct Projection {
    pub(crate) conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Projection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projection")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Projection {
    /// Opens (creating when absent) the projection file at `path`: WAL
    /// journal, `synchronous=NORMAL`, a 5 s busy timeout, and the schema of
    /// [`SCHEMA_VERSION`] created if missing (idempotent).
    ///
    /// # Errors
    /// [`ReportError::Open`] when the file cannot be opened or configured;
    /// [`ReportError::SchemaVersion`] when it holds another schema version;
    /// [`ReportError::Sql`] when the schema cannot be created.
    pub fn open(path: impl AsRef<Path>) -> Result<Projection, ReportError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |source| ReportError::Open {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.execute_batch(SCHEMA).ctx("create schema")?;
        let found: Option<i64> = conn
            .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
            .ctx("read schema version")?;
        match found {
            None => {
                conn.execute(
                    "INSERT INTO schema_version (version) VALUES (?1)",
                    [SCHEMA_VERSION],
                )
                .ctx("record schema version")?;
            }
            Some(v) if v == SCHEMA_VERSION => {}
            Some(found) => {
                return Err(ReportError::SchemaVersion {
                    path,
                    found,
                    expected: SCHEMA_VERSION,
                });
            }
        }
        Ok(Projection { conn, path })
    }

    /// A transaction that takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so a second writer (the report service and a CLI catching up the same
    /// file) waits up to [`BUSY_TIMEOUT`] for it. A deferred transaction
    /// would start as a reader and, when the other writer commits first,
    /// fail at its first write with "database is locked" without waiting.
    fn write_transaction(&mut self) -> Result<rusqlite::Transaction<'_>, ReportError> {
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("begin transaction")
    }

    /// [`Projection::open`] for a caller that replays the streams into the
    /// projection: a file of another schema version (an older patchflow's)
    /// is moved aside to `<file>.schema<version>` (kept for inspection,
    /// replacing an earlier one of that name; its `-wal` and `-shm`
    /// companions move with it) and a fresh file is opened, which the replay
    /// then fills from sequence 1. Returns the path it was moved to.
    ///
    /// # Errors
    /// As [`Projection::open`]; [`ReportError::SetAside`] when the old file
    /// cannot be moved.
    pub fn open_for_replay(
        path: impl AsRef<Path>,
    ) -> Result<(Projection, Option<PathBuf>), ReportError> {
        let path = path.as_ref();
        match Projection::open(path) {
            Err(ReportError::SchemaVersion { found, .. }) => {
                let mut aside = path.as_os_str().to_owned();
                aside.push(format!(".schema{found}"));
                let aside = PathBuf::from(aside);
                for suffix in ["", "-wal", "-shm"] {
                    let mut from = path.as_os_str().to_owned();
                    from.push(suffix);
                    let mut to = aside.as_os_str().to_owned();
                    to.push(suffix);
                    let from = PathBuf::from(from);
                    if from.exists() {
                        std::fs::rename(&from, PathBuf::from(to)).map_err(|source| {
                            ReportError::SetAside {
                                path: from.clone(),
                                source,
                            }
                        })?;
                    }
                }
                Ok((Projection::open(path)?, Some(aside)))
            }
            other => other.map(|p| (p, None)),
        }
    }

    /// The file this projection lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last applied stream sequence of `stream` (0 when none): resume the
    /// stream's ordered consumer at `position + 1`.
    ///
    /// # Errors
    /// [`ReportError::Sql`] on a read failure; [`ReportError::Corrupt`] when
    /// the stored position is negative.
    pub fn position(&self, stream: &str) -> Result<u64, ReportError> {
        read_position(&self.conn, stream)
    }

    /// Every stream's last applied sequence, by stream name.
    ///
    /// # Errors
    /// As [`Projection::position`].
    pub fn positions(&self) -> Result<BTreeMap<String, u64>, ReportError> {
        let mut stmt = self
            .conn
            .prepare("SELECT stream, position FROM stream_positions ORDER BY stream")
            .ctx("read stream positions")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .ctx("read stream positions")?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (stream, pos) = row.ctx("read stream positions")?;
            let pos = to_u64("stream position", pos)?;
            out.insert(stream, pos);
        }
        Ok(out)
    }

    /// Applies one event read from `stream` at `stream_seq`, in one
    /// transaction: skipped when `stream_seq` is at or below the stream's
    /// position ([`SkipReason::Sequence`]) or the event id was already
    /// applied ([`SkipReason::DuplicateId`], the position advances); else the
    /// event is stored with its chain hash, the read models are updated and
    /// the stream position becomes `stream_seq`.
    ///
    /// # Errors
    /// [`ReportError::Sql`] when SQLite fails (nothing is changed);
    /// [`ReportError::OutOfRange`] for a sequence above `i64::MAX`.
    pub fn apply(
        &mut self,
        stream: &str,
        stream_seq: u64,
        event: &Event,
    ) -> Result<Applied, ReportError> {
        let tx = self.write_transaction()?;
        let applied = apply_in(&tx, stream, stream_seq, event)?;
        tx.commit().ctx("commit transaction")?;
        Ok(applied)
    }

    /// Applies many `(stream, stream_seq, event)` in one transaction (for
    /// replay speed), each as [`Projection::apply`] would, in order. Returns
    /// one [`Applied`] per input.
    ///
    /// # Errors
    /// As [`Projection::apply`]; on an error nothing of the batch is kept.
    pub fn apply_batch<'e, I>(&mut self, batch: I) -> Result<Vec<Applied>, ReportError>
    where
        I: IntoIterator<Item = (&'e str, u64, &'e Event)>,
    {
        let tx = self.write_transaction()?;
        let mut out = Vec::new();
        for (stream, seq, event) in batch {
            out.push(apply_in(&tx, stream, seq, event)?);
        }
        tx.commit().ctx("commit transaction")?;
        Ok(out)
    }

    /// The stored event with this id, as applied (to compare with the streams).
    ///
    /// # Errors
    /// [`ReportError::Sql`] on a read failure; [`ReportError::StoredEvent`]
    /// when the stored JSON does not decode.
    pub fn event(&self, id: uuid::Uuid) -> Result<Option<Event>, ReportError> {
        let row: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT position, json FROM events WHERE event_id = ?1",
                [id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .ctx("read event")?;
        match row {
            None => Ok(None),
            Some((position, json)) => {
                let position = to_u64("event position", position)?;
                Event::from_json(json.as_bytes())
                    .map(Some)
                    .map_err(|source| ReportError::StoredEvent { position, source })
            }
        }
    }

    /// Recomputes the audit chain: every event row, in position order, must
    /// sit at the next position (1, 2, …), carry
    /// `hash = hex(SHA-256(previous row's hash bytes ‖ json))` (32 zero bytes
    /// before the first row), and agree with its JSON on id, type, time and
    /// bundle; the last row must match the recorded chain head.
    ///
    /// This proves that no stored event was edited, inserted, reordered or
    /// removed after it was applied, short of an attacker who rewrites the
    /// whole chain and its head: compare [`ChainReport::head`] with a copy
    /// kept elsewhere to rule that out too. The read models are not covered;
    /// they are derived from the events and rebuilt by replay.
    ///
    /// # Errors
    /// [`ReportError::Sql`] when the rows cannot be read. A broken chain is
    /// not an error: it is reported in [`ChainReport::broken`].
    pub fn verify_chain(&self) -> Result<ChainReport, ReportError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT position, event_id, event_type, time, bundle_id, json, hash
                 FROM events ORDER BY position",
            )
            .ctx("read events for chain verification")?;
        let mut rows = stmt.query([]).ctx("read events for chain verification")?;
        let mut prev = GENESIS.to_vec();
        let mut expected_position: u64 = 1;
        let mut count: u64 = 0;
        let mut head: Option<String> = None;
        while let Some(row) = rows.next().ctx("read events for chain verification")? {
            let position: i64 = row.get(0).ctx("read event position")?;
            let event_id: String = row.get(1).ctx("read event id")?;
            let event_type: String = row.get(2).ctx("read event type")?;
            let time: String = row.get(3).ctx("read event time")?;
            let bundle_id: Option<String> = row.get(4).ctx("read event bundle")?;
            let json: String = row.get(5).ctx("read event json")?;
            let stored: String = row.get(6).ctx("read event hash")?;
            let broken = |problem: String| {
                Ok(ChainReport {
                    rows: count,
                    head: head.clone(),
                    broken: Some(BrokenLink {
                        position: u64::try_from(position).unwrap_or(0),
                        event_id: Some(event_id.clone()),
                        problem,
                    }),
                })
            };
            if u64::try_from(position).ok() != Some(expected_position) {
                return broken(format!(
                    "found position {position} where position {expected_position} belongs (a row was removed or inserted)"
                ));
            }
            let digest = chain_hash(&prev, json.as_bytes());
            if hex::encode(digest) != stored {
                return broken("hash mismatch: the event json or its hash was edited".to_owned());
            }
            match Event::from_json(json.as_bytes()) {
                Err(e) => return broken(format!("hashed json does not decode: {e}")),
                Ok(ev) => {
                    let columns_agree = ev.id.to_string() == event_id
                        && ev.event_type() == event_type
                        && ts(ev.time) == time
                        && ev.data.bundle_id().map(|b| b.to_string()) == bundle_id;
                    if !columns_agree {
                        return broken(
                            "columns (id, type, time, bundle) disagree with the hashed json"
                                .to_owned(),
                        );
                    }
                }
            }
            prev = digest.to_vec();
            head = Some(stored);
            count += 1;
            expected_position += 1;
        }
        let recorded: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT position, hash FROM chain_head WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .ctx("read chain head")?;
        let head_ok = match (&recorded, &head) {
            (None, None) => true,
            (Some((pos, hash)), Some(h)) => u64::try_from(*pos).ok() == Some(count) && hash == h,
            _ => false,
        };
        let broken = (!head_ok).then(|| BrokenLink {
            position: expected_position,
            event_id: None,
            problem: match recorded {
                Some((pos, _)) => format!(
                    "the chain head records {pos} rows but {count} remain (rows were removed from the end)"
                ),
                None => "the chain head is missing".to_owned(),
            },
        });
        Ok(ChainReport {
            rows: count,
            head,
            broken,
        })
    }
}

/// `SHA-256(prev ‖ json)`.
fn chain_hash(prev: &[u8], json: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(json);
    h.finalize().into()
}

fn read_position(conn: &Connection, stream: &str) -> Result<u64, ReportError> {
    let pos: Option<i64> = conn
        .query_row(
            "SELECT position FROM stream_positions WHERE stream = ?1",
            [stream],
            |r| r.get(0),
        )
        .optional()
        .ctx("read stream position")?;
    to_u64("stream position", pos.unwrap_or(0))
}

fn set_position(conn: &Connection, stream: &str, seq: i64) -> Result<(), ReportError> {
    conn.execute(
        "INSERT INTO stream_positions (stream, position) VALUES (?1, ?2)
         ON CONFLICT (stream) DO UPDATE SET position = excluded.position",
        params![stream, seq],
    )
    .ctx("advance stream position")?;
    Ok(())
}

fn apply_in(
    tx: &Connection,
    stream: &str,
    stream_seq: u64,
    event: &Event,
) -> Result<Applied, ReportError> {
    let seq = to_i64("stream sequence", stream_seq)?;
    if stream_seq <= read_position(tx, stream)? {
        return Ok(Applied::Skipped(SkipReason::Sequence));
    }
    let event_id = event.id.to_string();
    let known: Option<i64> = tx
        .query_row(
            "SELECT position FROM events WHERE event_id = ?1",
            [&event_id],
            |r| r.get(0),
        )
        .optional()
        .ctx("look up event id")?;
    if known.is_some() {
        set_position(tx, stream, seq)?;
        return Ok(Applied::Skipped(SkipReason::DuplicateId));
    }

    let json = String::from_utf8(event.to_json())
        .map_err(|e| ReportError::Corrupt(format!("event {event_id} json is not UTF-8: {e}")))?;
    if json.is_empty() {
        return Err(ReportError::Corrupt(format!(
            "event {event_id} did not serialise"
        )));
    }
    let head: Option<(i64, String)> = tx
        .query_row(
            "SELECT position, hash FROM chain_head WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .ctx("read chain head")?;
    let (prev_pos, prev_hash) = match head {
        None => (0, GENESIS.to_vec()),
        Some((pos, hash)) => (
            pos,
            hex::decode(&hash)
                .map_err(|e| ReportError::Corrupt(format!("chain head hash {hash:?}: {e}")))?,
        ),
    };
    let position = prev_pos + 1;
    let hash = hex::encode(chain_hash(&prev_hash, json.as_bytes()));
    tx.execute(
        "INSERT INTO events (position, event_id, event_type, source, subject, time, stream,
                             stream_seq, bundle_id, json, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            position,
            event_id,
            event.event_type(),
            event.source,
            event.subject,
            ts(event.time),
            stream,
            seq,
            event.data.bundle_id().map(|b| b.to_string()),
            json,
            hash,
        ],
    )
    .ctx("insert event")?;
    tx.execute(
        "INSERT INTO chain_head (id, position, hash) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET position = excluded.position, hash = excluded.hash",
        params![position, hash],
    )
    .ctx("advance chain head")?;
    project(tx, event)?;
    set_position(tx, stream, seq)?;
    Ok(Applied::Stored {
        position: to_u64("event position", position)?,
    })
}

/// Updates the read models from one event's typed payload.
fn project(tx: &Connection, event: &Event) -> Result<(), ReportError> {
    match &event.data {
        Payload::ScanSubmitted(_) | Payload::ScanRejected(_) => Ok(()),
        Payload::ScanCompleted(p) => {
            for host in &p.hosts {
                known_asset(tx, host)?;
            }
            Ok(())
        }
        Payload::AssetUpserted(p) => upsert_asset(tx, &p.asset, event),
        Payload::FindingObserved(p) => {
            upsert_asset(tx, &p.asset, event)?;
            observe_finding(tx, p)
        }
        Payload::FindingResolved(p) => resolve_finding(tx, p),
        Payload::FindingPrioritized(p) => {
            upsert_asset(tx, &p.asset, event)?;
            prioritize_finding(tx, p, event.time)
        }
        Payload::BundlePlanned(p) => bundle_planned(tx, p, event.time),
        Payload::BundleScheduled(p) => bundle_scheduled(tx, p, event.time),
        Payload::BundleCompleted(p) => bundle_completed(tx, p, event.time),
        Payload::BundleHalted(p) => bundle_halted(tx, p, event.time),
        Payload::WaveStarted(p) => wave_started(tx, p, event.time),
        Payload::WaveCompleted(p) => wave_completed(tx, p, event.time),
        Payload::WaveHalted(p) => wave_halted(tx, p, event.time),
        Payload::AgentJob(p) => agent_job(tx, p),
        Payload::AgentResult(p) => agent_result(tx, p, event),
        Payload::ValidationPassed(p) => validation_passed(tx, p, event),
        Payload::ValidationFailed(p) => validation_failed(tx, p, event),
        Payload::RollbackRequested(p) => rollback_requested(tx, p, event),
        Payload::RollbackCompleted(p) => rollback_completed(tx, p, event),
        Payload::DeadLettered(p) => dead_lettered(tx, p, event),
        Payload::ExceptionGranted(p) => exception_granted(tx, p),
        Payload::ExceptionRevoked(p) => exception_ended(tx, p.exception_id, p.revoked_at),
        Payload::ExceptionExpired(p) => exception_ended(tx, p.exception_id, p.expired_at),
        Payload::BundleApproved(p) => {
            let bundle_id = p.bundle_id.to_string();
            ensure_bundle(tx, &bundle_id, &ts(event.time))?;
            tx.execute(
                "UPDATE bundles SET approved_by = ?2, approved_at = ?3 WHERE bundle_id = ?1",
                params![bundle_id, p.approved_by, ts(event.time)],
            )
            .ctx("record bundle approval")?;
            Ok(())
        }
        // Kept in the audit trail; no read model yet. Schedule turns a
        // rejection into `bundle.halted`, which sets the bundle's status.
        Payload::AgentOnline(_)
        | Payload::HostStepStarted(_)
        | Payload::HostStepFinished(_)
        | Payload::BundleRejected(_)
        | Payload::CatalogLoaded(_)
        | Payload::KevAdded(_)
        | Payload::AdvisoryPublished(_)
        | Payload::EmergencyDeclared(_)
        | Payload::EmergencyProgressed(_)
        | Payload::EmergencyEscalated(_) => Ok(()),
    }
}

/// A risk acceptance: applies in `[granted_at, expires_at)` until ended.
fn exception_granted(tx: &Connection, p: &ExceptionGranted) -> Result<(), ReportError> {
    let (finding_id, cve) = match &p.target {
        ExceptionTarget::Finding { finding_id } => (Some(finding_id.to_string()), None),
        ExceptionTarget::Cve { cve } => (None, Some(cve.to_ascii_uppercase())),
    };
    tx.execute(
        "INSERT INTO exceptions (exception_id, finding_id, cve, owner, reason, granted_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (exception_id) DO NOTHING",
        params![
            p.exception_id.to_string(),
            finding_id,
            cve,
            p.owner,
            p.reason,
            ts(p.granted_at),
            ts(p.expires_at),
        ],
    )
    .ctx("record exception")?;
    Ok(())
}

/// A revocation or an expiry: the earliest end counts. An end of an
/// exception never granted changes no read model.
fn exception_ended(
    tx: &Connection,
    exception_id: uuid::Uuid,
    at: DateTime<Utc>,
) -> Result<(), ReportError> {
    tx.execute(
        "UPDATE exceptions SET ended_at = ?2
         WHERE exception_id = ?1 AND (ended_at IS NULL OR ended_at > ?2)",
        params![exception_id.to_string(), ts(at)],
    )
    .ctx("end exception")?;
    Ok(())
}

fn known_asset(tx: &Connection, asset_id: &str) -> Result<(), ReportError> {
    if asset_id.is_empty() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO asset_ids (asset_id) VALUES (?1) ON CONFLICT DO NOTHING",
        [asset_id],
    )
    .ctx("record asset")?;
    Ok(())
}

/// Merges an asset snapshot attribute by attribute: a value replaces the
/// stored one only when its event is later (time, then id). Assets with an
/// empty id are not recorded.
fn upsert_asset(tx: &Connection, asset: &Asset, event: &Event) -> Result<(), ReportError> {
    if asset.asset_id.is_empty() {
        return Ok(());
    }
    known_asset(tx, &asset.asset_id)?;
    let attributes: [(&str, Option<String>); 10] = [
        ("hostname", asset.hostname.clone()),
        ("ip", asset.ip.clone()),
        ("fqdn", asset.fqdn.clone()),
        ("os", asset.os.clone()),
        ("mac", asset.mac.clone()),
        ("ring", asset.ring.clone()),
        ("tier", asset.tier.map(|t| t.to_string())),
        (
            "internet_facing",
            asset.internet_facing.map(|b| b.to_string()),
        ),
        ("owner", asset.owner.clone()),
        ("window", asset.window.clone()),
    ];
    let stamp_time = ts(event.time);
    let stamp_event = event.id.to_string();
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO asset_attributes (asset_id, name, value, stamp_time, stamp_event)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (asset_id, name) DO UPDATE SET
                 value = excluded.value,
                 stamp_time = excluded.stamp_time,
                 stamp_event = excluded.stamp_event
             WHERE excluded.stamp_time > asset_attributes.stamp_time
                OR (excluded.stamp_time = asset_attributes.stamp_time
                    AND excluded.stamp_event > asset_attributes.stamp_event)",
        )
        .ctx("prepare asset attribute upsert")?;
    for (name, value) in attributes {
        if let Some(value) = value {
            stmt.execute(params![
                asset.asset_id,
                name,
                value,
                stamp_time,
                stamp_event
            ])
            .ctx("upsert asset attribute")?;
        }
    }
    Ok(())
}

/// The latest interval of a finding: `(opened_at, resolved_at)`.
fn latest_interval(
    tx: &Connection,
    finding_id: &str,
) -> Result<Option<(String, Option<String>)>, ReportError> {
    tx.query_row(
        "SELECT opened_at, resolved_at FROM finding_intervals
         WHERE finding_id = ?1 ORDER BY opened_at DESC LIMIT 1",
        [finding_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .ctx("read finding interval")
}

/// Copies the latest interval's state into `findings.status` / `resolved_at`.
fn sync_finding_status(tx: &Connection, finding_id: &str) -> Result<(), ReportError> {
    if let Some((_, resolved_at)) = latest_interval(tx, finding_id)? {
        let status = if resolved_at.is_some() {
            "resolved"
        } else {
            "open"
        };
        tx.execute(
            "UPDATE findings SET status = ?2, resolved_at = ?3 WHERE finding_id = ?1",
            params![finding_id, status, resolved_at],
        )
        .ctx("update finding status")?;
    }
    Ok(())
}

fn observe_finding(tx: &Connection, p: &FindingObserved) -> Result<(), ReportError> {
    let id = p.finding_id.to_string();
    let first = ts(p.first_observed_at.min(p.observed_at));
    let seen = ts(p.observed_at);
    let cves = serde_json::to_string(&p.cves)?;
    tx.execute(
        "INSERT INTO findings (finding_id, fingerprint, asset_id, scanner, check_id, check_name,
                               port, protocol, severity, cves, first_observed_at,
                               last_observed_at, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'open')
         ON CONFLICT (finding_id) DO UPDATE SET
             fingerprint = excluded.fingerprint,
             asset_id = excluded.asset_id,
             scanner = excluded.scanner,
             check_id = excluded.check_id,
             check_name = excluded.check_name,
             port = excluded.port,
             protocol = excluded.protocol,
             severity = excluded.severity,
             cves = excluded.cves,
             first_observed_at = min(findings.first_observed_at, excluded.first_observed_at),
             last_observed_at = max(findings.last_observed_at, excluded.last_observed_at)",
        params![
            id,
            p.fingerprint,
            p.asset.asset_id,
            p.check.scanner,
            p.check.id,
            p.check.name,
            p.port,
            p.protocol,
            p.severity.as_str(),
            cves,
            first,
            seen,
        ],
    )
    .ctx("upsert finding")?;
    match latest_interval(tx, &id)? {
        None => {
            tx.execute(
                "INSERT INTO finding_intervals (finding_id, opened_at) VALUES (?1, ?2)",
                params![id, first],
            )
            .ctx("open finding interval")?;
        }
        Some((_, Some(resolved_at))) if seen > resolved_at => {
            tx.execute(
                "INSERT INTO finding_intervals (finding_id, opened_at) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
                params![id, seen],
            )
            .ctx("reopen finding")?;
        }
        Some(_) => {}
    }
    // A late observation may know an earlier start of the SLA clock.
    tx.execute(
        "UPDATE finding_intervals SET opened_at = ?2
         WHERE finding_id = ?1 AND opened_at > ?2
           AND opened_at = (SELECT MIN(opened_at) FROM finding_intervals WHERE finding_id = ?1)",
        params![id, first],
    )
    .ctx("move finding start earlier")?;
    sync_finding_status(tx, &id)
}

fn resolve_finding(tx: &Connection, p: &FindingResolved) -> Result<(), ReportError> {
    let id = p.finding_id.to_string();
    let at = ts(p.resolved_at);
    let Some((opened_at, resolved_at)) = latest_interval(tx, &id)? else {
        return Ok(());
    };
    let closes = match &resolved_at {
        None => at >= opened_at,
        // A second resolution of the same interval: the earliest one counts.
        Some(previous) => at >= opened_at && at < *previous,
    };
    if closes {
        tx.execute(
            "UPDATE finding_intervals SET resolved_at = ?3 WHERE finding_id = ?1 AND opened_at = ?2",
            params![id, opened_at, at],
        )
        .ctx("close finding interval")?;
        sync_finding_status(tx, &id)?;
    }
    Ok(())
}

fn prioritize_finding(
    tx: &Connection,
    p: &FindingPrioritized,
    decided_at: DateTime<Utc>,
) -> Result<(), ReportError> {
    let id = p.finding_id.to_string();
    let first = ts(p.first_observed_at);
    let cves = serde_json::to_string(&p.cves)?;
    // A decision proves an observation, even when the observation itself was
    // trimmed from the stream.
    tx.execute(
        "INSERT INTO findings (finding_id, fingerprint, asset_id, scanner, check_id, check_name,
                               port, protocol, severity, cves, first_observed_at,
                               last_observed_at, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, '', ?7, ?8, ?9, ?9, 'open')
         ON CONFLICT (finding_id) DO NOTHING",
        params![
            id,
            p.fingerprint,
            p.asset.asset_id,
            p.check.scanner,
            p.check.id,
            p.check.name,
            p.inputs.scanner_severity.map(|s| s.as_str()),
            cves,
            first,
        ],
    )
    .ctx("record prioritized finding")?;
    tx.execute(
        "INSERT INTO finding_intervals (finding_id, opened_at)
         SELECT ?1, ?2 WHERE NOT EXISTS (SELECT 1 FROM finding_intervals WHERE finding_id = ?1)",
        params![id, first],
    )
    .ctx("open prioritized finding interval")?;
    let cvss = p.inputs.cvss.as_ref();
    tx.execute(
        "UPDATE findings SET priority = ?2, due_at = ?3, sla_hours = ?4, cvss_base_score = ?5,
                             cvss_vector = ?6, policy_version = ?7, prioritized_at = ?8
         WHERE finding_id = ?1",
        params![
            id,
            p.priority.as_str(),
            ts(p.due_at),
            p.sla_hours,
            cvss.map(|c| c.base_score),
            cvss.map(|c| c.vector.clone()),
            p.policy_version,
            ts(decided_at),
        ],
    )
    .ctx("record finding priority")?;
    sync_finding_status(tx, &id)
}

/// A planned ring and its host count, as stored in `bundles.plan_rings`.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct PlannedRing {
    pub(crate) ring: String,
    pub(crate) hosts: u64,
}

fn ensure_bundle(tx: &Connection, bundle_id: &str, at: &str) -> Result<(), ReportError> {
    tx.execute(
        "INSERT INTO bundles (bundle_id, status, status_at) VALUES (?1, 'planned', ?2)
         ON CONFLICT DO NOTHING",
        params![bundle_id, at],
    )
    .ctx("record bundle")?;
    Ok(())
}

fn set_bundle_status(
    tx: &Connection,
    bundle_id: &str,
    status: &str,
    at: &str,
) -> Result<(), ReportError> {
    ensure_bundle(tx, bundle_id, at)?;
    tx.execute(
        "UPDATE bundles SET status = ?2, status_at = ?3 WHERE bundle_id = ?1",
        params![bundle_id, status, at],
    )
    .ctx("update bundle status")?;
    Ok(())
}

fn bundle_planned(
    tx: &Connection,
    p: &BundlePlanned,
    at: DateTime<Utc>,
) -> Result<(), ReportError> {
    let rings: Vec<PlannedRing> = p
        .rings
        .iter()
        .map(|r| PlannedRing {
            ring: r.ring.clone(),
            hosts: r.hosts.len() as u64,
        })
        .collect();
    let hosts: std::collections::BTreeSet<&str> =
        p.targets.iter().map(|t| t.asset_id.as_str()).collect();
    tx.execute(
        "INSERT INTO bundles (bundle_id, digest, scan_id, priority, deadline, sla_at_risk,
                              planned_at, plan_rings, hosts, remediations, manual_tasks,
                              approval_rings, status, status_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'planned', ?7)
         ON CONFLICT (bundle_id) DO UPDATE SET
             digest = excluded.digest, scan_id = excluded.scan_id,
             priority = excluded.priority, deadline = excluded.deadline,
             sla_at_risk = excluded.sla_at_risk, planned_at = excluded.planned_at,
             plan_rings = excluded.plan_rings, hosts = excluded.hosts,
             remediations = excluded.remediations, manual_tasks = excluded.manual_tasks,
             approval_rings = excluded.approval_rings",
        params![
            p.bundle_id.to_string(),
            p.digest,
            p.scan_id.to_string(),
            p.priority.as_str(),
            ts(p.deadline),
            p.sla_at_risk,
            ts(at),
            serde_json::to_string(&rings)?,
            to_i64("bundle host count", hosts.len() as u64)?,
            to_i64("bundle remediation count", p.remediations.len() as u64)?,
            to_i64("bundle manual task count", p.manual_tasks.len() as u64)?,
            serde_json::to_string(
                &p.approval
                    .as_ref()
                    .map(|a| a.rings.clone())
                    .unwrap_or_default()
            )?,
        ],
    )
    .ctx("record planned bundle")?;
    Ok(())
}

fn bundle_scheduled(
    tx: &Connection,
    p: &BundleScheduled,
    at: DateTime<Utc>,
) -> Result<(), ReportError> {
    let bundle_id = p.bundle_id.to_string();
    set_bundle_status(tx, &bundle_id, "scheduled", &ts(at))?;
    tx.execute(
        "INSERT INTO bundle_rings (bundle_id, ring, ring_index, last_ring, scheduled_at,
                                   window_opens_at, window_closes_at, hosts, canary_hosts,
                                   batch_percent, max_failed_percent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (bundle_id, ring) DO UPDATE SET
             ring_index = excluded.ring_index, last_ring = excluded.last_ring,
             scheduled_at = excluded.scheduled_at, window_opens_at = excluded.window_opens_at,
             window_closes_at = excluded.window_closes_at, hosts = excluded.hosts,
             canary_hosts = excluded.canary_hosts, batch_percent = excluded.batch_percent,
             max_failed_percent = excluded.max_failed_percent",
        params![
            bundle_id,
            p.ring,
            p.ring_index,
            p.last_ring,
            ts(at),
            ts(p.window.opens_at),
            ts(p.window.closes_at),
            to_i64("ring host count", p.hosts.len() as u64)?,
            p.rollout.canary_hosts,
            p.rollout.batch_percent,
            p.rollout.max_failed_percent,
        ],
    )
    .ctx("record scheduled ring")?;
    Ok(())
}

fn bundle_completed(
    tx: &Connection,
    p: &BundleCompleted,
    at: DateTime<Utc>,
) -> Result<(), ReportError> {
    let bundle_id = p.bundle_id.to_string();
    ensure_bundle(tx, &bundle_id, &ts(at))?;
    // Rollout done; manual tasks stay open until people fix their findings.
    tx.execute(
        "UPDATE bundles SET status_at = ?2,
             status = CASE WHEN manual_tasks > 0 THEN 'awaiting_manual' ELSE 'completed' END
         WHERE bundle_id = ?1",
        params![bundle_id, ts(at)],
    )
    .ctx("record bundle completion")?;
    Ok(())
}

fn bundle_halted(tx: &Connection, p: &BundleHalted, at: DateTime<Utc>) -> Result<(), ReportError> {
    let bundle_id = p.bundle_id.to_string();
    set_bundle_status(tx, &bundle_id, "halted", &ts(at))?;
    tx.execute(
        "UPDATE bundles SET halted_ring = ?2, halt_reason = ?3 WHERE bundle_id = ?1",
        params![bundle_id, p.ring, p.reason],
    )
    .ctx("record bundle halt")?;
    Ok(())
}

pub(crate) fn wave_kind_str(kind: WaveKind) -> &'static str {
    match kind {
        WaveKind::Canary => "canary",
        WaveKind::Batch => "batch",
    }
}

fn wave_started(tx: &Connection, p: &WaveStarted, at: DateTime<Utc>) -> Result<(), ReportError> {
    tx.execute(
        "INSERT INTO waves (bundle_id, ring, wave, kind, hosts, state, started_at, results_due_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'started', ?6, ?7)
         ON CONFLICT (bundle_id, ring, wave) DO UPDATE SET
             kind = excluded.kind, hosts = excluded.hosts,
             started_at = excluded.started_at, results_due_at = excluded.results_due_at",
        params![
            p.bundle_id.to_string(),
            p.ring,
            p.wave,
            wave_kind_str(p.kind),
            to_i64("wave host count", p.hosts.len() as u64)?,
            ts(at),
            ts(p.results_due_at),
        ],
    )
    .ctx("record wave start")?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn wave_ended(
    tx: &Connection,
    bundle_id: &str,
    ring: &str,
    wave: u32,
    kind: WaveKind,
    state: &str,
    outcomes: &[events::HostOutcome],
    ring_attempted: u32,
    ring_failed: u32,
    never_started: Option<usize>,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), ReportError> {
    let failed = outcomes.iter().filter(|o| o.status.is_failure()).count() as u64;
    let succeeded = outcomes.len() as u64 - failed;
    tx.execute(
        "INSERT INTO waves (bundle_id, ring, wave, kind, hosts, state, ended_at, succeeded,
                            failed, ring_attempted, ring_failed, never_started, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (bundle_id, ring, wave) DO UPDATE SET
             kind = excluded.kind, state = excluded.state, ended_at = excluded.ended_at,
             succeeded = excluded.succeeded, failed = excluded.failed,
             ring_attempted = excluded.ring_attempted, ring_failed = excluded.ring_failed,
             never_started = excluded.never_started, reason = excluded.reason",
        params![
            bundle_id,
            ring,
            wave,
            wave_kind_str(kind),
            to_i64("wave host count", outcomes.len() as u64)?,
            state,
            ts(at),
            to_i64("wave succeeded count", succeeded)?,
            to_i64("wave failed count", failed)?,
            ring_attempted,
            ring_failed,
            never_started
                .map(|n| to_i64("never started count", n as u64))
                .transpose()?,
            reason,
        ],
    )
    .ctx("record wave end")?;
    Ok(())
}

fn wave_completed(
    tx: &Connection,
    p: &WaveCompleted,
    at: DateTime<Utc>,
) -> Result<(), ReportError> {
    wave_ended(
        tx,
        &p.bundle_id.to_string(),
        &p.ring,
        p.wave,
        p.kind,
        "completed",
        &p.hosts,
        p.ring_attempted,
        p.ring_failed,
        None,
        None,
        at,
    )
}

fn wave_halted(tx: &Connection, p: &WaveHalted, at: DateTime<Utc>) -> Result<(), ReportError> {
    wave_ended(
        tx,
        &p.bundle_id.to_string(),
        &p.ring,
        p.wave,
        p.kind,
        "halted",
        &p.hosts,
        p.ring_attempted,
        p.ring_failed,
        Some(p.never_started.len()),
        Some(&p.reason),
        at,
    )
}

pub(crate) fn action_str(action: JobAction) -> &'static str {
    match action {
        JobAction::Apply => "apply",
        JobAction::Rollback => "rollback",
        JobAction::Reboot => "reboot",
    }
}

pub(crate) fn job_status_str(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Succeeded => "succeeded",
        JobStatus::Failed => "failed",
        JobStatus::Refused => "refused",
    }
}

fn agent_job(tx: &Connection, p: &AgentJob) -> Result<(), ReportError> {
    tx.execute(
        "INSERT INTO jobs (job_id, bundle_id, ring, wave, host, action, issued_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
        params![
            p.job_id.to_string(),
            p.bundle_id.to_string(),
            p.ring,
            p.wave,
            p.host,
            action_str(p.action),
            ts(p.issued_at),
            ts(p.expires_at),
        ],
    )
    .ctx("record agent job")?;
    Ok(())
}

fn agent_result(tx: &Connection, p: &AgentResult, event: &Event) -> Result<(), ReportError> {
    known_asset(tx, &p.host)?;
    tx.execute(
        "INSERT INTO agent_results (event_id, job_id, bundle_id, ring, wave, host, action, status,
                                    reason, rebooted, finished_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT DO NOTHING",
        params![
            event.id.to_string(),
            p.job_id.to_string(),
            p.bundle_id.to_string(),
            p.ring,
            p.wave,
            p.host,
            action_str(p.action),
            job_status_str(p.status),
            p.reason,
            p.rebooted,
            ts(p.finished_at),
        ],
    )
    .ctx("record agent result")?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn validation(
    tx: &Connection,
    event: &Event,
    bundle_id: &str,
    ring: &str,
    wave: u32,
    verdict: &str,
    last_wave_in_ring: Option<bool>,
    checks: &[events::CheckResult],
    readback: &[events::HostReadback],
    reasons: &[String],
) -> Result<(), ReportError> {
    let count = |n: usize| to_i64("validation count", n as u64);
    tx.execute(
        "INSERT INTO validations (event_id, bundle_id, ring, wave, verdict, last_wave_in_ring,
                                  checks, checks_failed, readback, readback_missing, reasons, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT DO NOTHING",
        params![
            event.id.to_string(),
            bundle_id,
            ring,
            wave,
            verdict,
            last_wave_in_ring,
            count(checks.len())?,
            count(checks.iter().filter(|c| !c.ok).count())?,
            count(readback.len())?,
            count(readback.iter().filter(|r| !r.ok).count())?,
            serde_json::to_string(reasons)?,
            ts(event.time),
        ],
    )
    .ctx("record validation verdict")?;
    Ok(())
}

fn validation_passed(
    tx: &Connection,
    p: &ValidationPassed,
    event: &Event,
) -> Result<(), ReportError> {
    validation(
        tx,
        event,
        &p.bundle_id.to_string(),
        &p.ring,
        p.wave,
        "passed",
        Some(p.last_wave_in_ring),
        &p.checks,
        &p.readback,
        &[],
    )
}

fn validation_failed(
    tx: &Connection,
    p: &ValidationFailed,
    event: &Event,
) -> Result<(), ReportError> {
    validation(
        tx,
        event,
        &p.bundle_id.to_string(),
        &p.ring,
        p.wave,
        "failed",
        None,
        &p.checks,
        &p.readback,
        &p.reasons,
    )
}

fn rollback_requested(
    tx: &Connection,
    p: &RollbackRequested,
    event: &Event,
) -> Result<(), ReportError> {
    tx.execute(
        "INSERT INTO rollbacks (bundle_id, ring, wave, hosts, reason, requested_at, requested_event)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        params![
            p.bundle_id.to_string(),
            p.ring,
            p.wave,
            serde_json::to_string(&p.hosts)?,
            p.reason,
            ts(event.time),
            event.id.to_string(),
        ],
    )
    .ctx("record rollback request")?;
    Ok(())
}

/// Closes the oldest open rollback request of the bundle's ring; records a
/// completion without a request when there is none open.
fn rollback_completed(
    tx: &Connection,
    p: &RollbackCompleted,
    event: &Event,
) -> Result<(), ReportError> {
    let bundle_id = p.bundle_id.to_string();
    let failed = p.hosts.iter().filter(|h| h.status.is_failure()).count() as u64;
    let succeeded = p.hosts.len() as u64 - failed;
    let open: Option<i64> = tx
        .query_row(
            "SELECT id FROM rollbacks
             WHERE bundle_id = ?1 AND ring = ?2 AND completed_event IS NULL
             ORDER BY id LIMIT 1",
            params![bundle_id, p.ring],
            |r| r.get(0),
        )
        .optional()
        .ctx("find open rollback")?;
    let hosts: Vec<&str> = p.hosts.iter().map(|h| h.host.as_str()).collect();
    match open {
        Some(id) => {
            tx.execute(
                "UPDATE rollbacks SET completed_at = ?2, completed_event = ?3, succeeded = ?4,
                                      failed = ?5
                 WHERE id = ?1",
                params![
                    id,
                    ts(event.time),
                    event.id.to_string(),
                    to_i64("rollback succeeded count", succeeded)?,
                    to_i64("rollback failed count", failed)?,
                ],
            )
            .ctx("close rollback")?;
        }
        None => {
            tx.execute(
                "INSERT INTO rollbacks (bundle_id, ring, hosts, completed_at, completed_event,
                                        succeeded, failed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    bundle_id,
                    p.ring,
                    serde_json::to_string(&hosts)?,
                    ts(event.time),
                    event.id.to_string(),
                    to_i64("rollback succeeded count", succeeded)?,
                    to_i64("rollback failed count", failed)?,
                ],
            )
            .ctx("record rollback completion")?;
        }
    }
    Ok(())
}

fn dead_lettered(tx: &Connection, p: &DeadLettered, event: &Event) -> Result<(), ReportError> {
    tx.execute(
        "INSERT INTO dead_letters (event_id, at, service, reason, subject, stream,
                                   stream_sequence, delivered, payload_text, payload_base64)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
        params![
            event.id.to_string(),
            ts(event.time),
            p.service.as_str(),
            p.reason,
            p.subject,
            p.stream,
            to_i64("dead letter stream sequence", p.stream_sequence)?,
            to_i64("dead letter delivery count", p.delivered)?,
            p.payload_text,
            p.payload_base64,
        ],
    )
    .ctx("record dead letter")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema text is pinned to [`SCHEMA_VERSION`]: a change to the
    /// layout fails here until the version is bumped (files of the old
    /// layout are then set aside and rebuilt instead of failing on a
    /// missing column) and the digest below updated.
    #[test]
    fn schema_changes_bump_the_version() {
        let digest = hex::encode(Sha256::digest(SCHEMA.as_bytes()));
        assert_eq!(
            (SCHEMA_VERSION, digest.get(..16).unwrap_or_default()),
            (3, "3ca0952d60b58b90"),
            "the projection schema changed: bump SCHEMA_VERSION and update this digest"
        );
    }
}
