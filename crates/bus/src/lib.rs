//! The bus: the only crate of patchflow that imports `async-nats`.
//!
//! It connects to NATS, creates every stream, KV bucket and the report object
//! store idempotently ([`Bus::ensure`]), publishes [`events::Event`]s and waits
//! for their PubAck ([`Bus::publish`]), and runs the consume loop that turns a
//! service's [`Handler`] into durable, acknowledged work ([`consume::serve`]).
//!
//! # Invariants
//!
//! - Every publish carries `Nats-Msg-Id` = the event id, so a retried publish
//!   inside the stream's duplicate window ([`events::spec::DUPLICATE_WINDOW`])
//!   is dropped by the server. Retries are bounded by [`PUBLISH_RETRY_BUDGET`],
//!   well inside that window, and never repeat errors that cannot heal (wrong
//!   last sequence, payload too large).
//! - The consume loop acks a message only after the handler returned `Ok`, and
//!   handlers return `Ok` only after their outputs are acknowledged and their
//!   state is stored. Poison (undecodable, schema-invalid) is terminated and
//!   copied with its reason to `patch.deadletter.<service>`; transient errors
//!   are nak'ed with backoff until `max_deliver`, then dead-lettered too.
//! - Nothing is silently dropped: every terminated message has a dead letter.
//! - Library code never reads the environment; configuration is passed in.

pub mod clock;
pub mod consume;
pub mod lease;
pub mod local;
pub mod reports;
pub mod state;
pub mod trace;

use std::time::Duration;

use async_nats::jetstream::{
    self, context::PublishErrorKind, message::PublishMessage as Publish, stream,
};
use async_nats::{HeaderMap, ServerAddr};
use bytes::Bytes;
use events::spec::{self, StreamSpec};
use events::{Event, Namespace, Service};
use tracing::{debug, info, warn};

pub use clock::Clock;
pub use consume::{Delivery, HandleError, Handler, ServeOptions, serve};
pub use lease::{Lease, run_ticks, serve_and_tick};
pub use reports::{ReportStore, StoredReport};
pub use state::{StateStore, Versioned, kv_key};

/// How long a publish is retried (with the same `Nats-Msg-Id`) before the
/// error is returned: 60 s, well inside the 5 min duplicate window and longer
/// than a cluster leader election (4–9 s) or a server restart.
pub const PUBLISH_RETRY_BUDGET: Duration = Duration::from_secs(60);

/// Client ping interval: a frozen server is noticed within about two of these
/// (the client default of 60 s would take two minutes).
pub const PING_INTERVAL: Duration = Duration::from_secs(5);

/// Everything that can go wrong on the bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Could not connect within the connect budget.
    #[error("connect to nats at {url}: {reason}")]
    Connect {
        /// The URL tried.
        url: String,
        /// Why.
        reason: String,
    },
    /// A stream, consumer, bucket or object store could not be created or opened.
    #[error("ensure {what}: {reason}")]
    Ensure {
        /// Which resource.
        what: String,
        /// Why.
        reason: String,
    },
    /// A publish failed after its retries, or with an error that cannot heal.
    #[error("publish {event_type} {id} to {subject}: {reason}")]
    Publish {
        /// The subject.
        subject: String,
        /// The event type.
        event_type: String,
        /// The event id.
        id: uuid::Uuid,
        /// Why.
        reason: String,
    },
    /// A compare-and-set on a KV key lost against another writer: retry the
    /// whole input with fresh state.
    #[error("state conflict on {bucket}/{key}: revision {revision} is no longer the latest")]
    Conflict {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The revision the write expected.
        revision: u64,
    },
    /// The named object, key or stream does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked up.
        what: String,
    },
    /// Any other KV, object-store or stream read failure.
    #[error("{op}: {reason}")]
    Io {
        /// What was attempted.
        op: String,
        /// Why.
        reason: String,
    },
    /// Stored bytes that do not decode.
    #[error("decode {what}: {reason}")]
    Decode {
        /// What.
        what: String,
        /// Why.
        reason: String,
    },
}

impl BusError {
    pub(crate) fn io(op: impl Into<String>, e: impl std::fmt::Display) -> Self {
        BusError::Io {
            op: op.into(),
            reason: e.to_string(),
        }
    }
}

/// How to reach NATS.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// Server URL(s), comma-separated (`nats://127.0.0.1:4222`).
    pub url: String,
    /// Subject and resource namespace (`patch`).
    pub namespace: Namespace,
    /// Client name shown in server monitoring (`patchflow-ingest`).
    pub client_name: String,
    /// Stream and KV replicas: 1 on one server, 3 in a cluster.
    pub replicas: usize,
    /// A NATS credentials file (`.creds`), for accounts with permissions.
    pub credentials: Option<std::path::PathBuf>,
    /// How long [`Bus::connect`] keeps trying before giving up.
    pub connect_timeout: Duration,
}

impl BusConfig {
    /// A config for `url` and `namespace` with one replica, no credentials and
    /// a 30 s connect budget.
    pub fn new(
        url: impl Into<String>,
        namespace: Namespace,
        client_name: impl Into<String>,
    ) -> Self {
        BusConfig {
            url: url.into(),
            namespace,
            client_name: client_name.into(),
            replicas: 1,
            credentials: None,
            connect_timeout: Duration::from_secs(30),
        }
    }
}

/// A connection to NATS JetStream in one namespace. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    client: async_nats::Client,
    js: jetstream::Context,
    ns: Namespace,
    replicas: usize,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("ns", &self.ns)
            .finish_non_exhaustive()
    }
}

impl Bus {
    /// Connects, retrying until `cfg.connect_timeout`. The connection then
    /// reconnects forever on its own; disconnects, reconnects and server
    /// errors (such as permission violations, which NATS reports only through
    /// this callback) are logged.
    ///
    /// # Errors
    /// [`BusError::Connect`] when no server answered in time or the
    /// credentials file cannot be read.
    pub async fn connect(cfg: &BusConfig) -> Result<Bus, BusError> {
        let addrs: Vec<ServerAddr> = cfg
            .url
            .split(',')
            .map(|u| u.trim().parse::<ServerAddr>())
            .collect::<Result<_, _>>()
            .map_err(|e| BusError::Connect {
                url: cfg.url.clone(),
                reason: e.to_string(),
            })?;
        let deadline = tokio::time::Instant::now() + cfg.connect_timeout;
        let mut attempt = 0u32;
        loop {
            let mut opts = async_nats::ConnectOptions::new()
                .name(&cfg.client_name)
                .ping_interval(PING_INTERVAL)
                .connection_timeout(Duration::from_secs(5))
                .request_timeout(Some(Duration::from_secs(10)))
                .event_callback(|event| async move {
                    match event {
                        async_nats::Event::Connected => info!("nats connected"),
                        async_nats::Event::Disconnected => warn!("nats disconnected, reconnecting"),
                        async_nats::Event::Draining | async_nats::Event::Closed => {
                            debug!(event = %event, "nats connection closing");
                        }
                        other => warn!(event = %other, "nats connection event"),
                    }
                });
            if let Some(creds) = &cfg.credentials {
                opts = opts
                    .credentials_file(creds)
                    .await
                    .map_err(|e| BusError::Connect {
                        url: cfg.url.clone(),
                        reason: format!("read credentials {}: {e}", creds.display()),
                    })?;
            }
            match opts.connect(addrs.clone()).await {
                Ok(client) => {
                    let mut js = jetstream::new(client.clone());
                    js.set_timeout(Duration::from_secs(10));
                    return Ok(Bus {
                        client,
                        js,
                        ns: cfg.namespace.clone(),
                        replicas: cfg.replicas.max(1),
                    });
                }
                Err(e) if tokio::time::Instant::now() < deadline => {
                    attempt += 1;
                    debug!(attempt, error = %e, "nats not reachable yet");
                    tokio::time::sleep(backoff(
                        attempt,
                        Duration::from_millis(100),
                        Duration::from_secs(2),
                    ))
                    .await;
                }
                Err(e) => {
                    return Err(BusError::Connect {
                        url: cfg.url.clone(),
                        reason: e.to_string(),
                    });
                }
            }
        }
    }

    /// The namespace of every subject and resource.
    pub fn namespace(&self) -> &Namespace {
        &self.ns
    }

    /// The raw client, for tests and the agent's core subscriptions.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The JetStream context.
    pub(crate) fn js(&self) -> &jetstream::Context {
        &self.js
    }

    /// Creates or updates every stream, every service's KV bucket, the lease
    /// bucket and the report object store. Idempotent: safe at every start of
    /// every instance.
    ///
    /// # Errors
    /// [`BusError::Ensure`] naming the resource.
    pub async fn ensure(&self) -> Result<(), BusError> {
        for s in spec::STREAMS {
            self.ensure_stream(&s).await?;
        }
        for service in Service::PIPELINE {
            self.state(service).await?;
        }
        self.state_bucket(&spec::lease_bucket(&self.ns), Some(lease::LEASE_TTL))
            .await?;
        self.reports().await?;
        Ok(())
    }

    async fn ensure_stream(&self, s: &StreamSpec) -> Result<(), BusError> {
        let name = s.name(&self.ns);
        let config = stream::Config {
            name: name.clone(),
            description: Some(s.description.to_owned()),
            subjects: s.subjects(&self.ns),
            storage: stream::StorageType::File,
            num_replicas: self.replicas,
            duplicate_window: spec::DUPLICATE_WINDOW,
            allow_direct: true,
            ..Default::default()
        };
        retry_io(&format!("stream {name}"), || async {
            self.js
                .create_or_update_stream(config.clone())
                .await
                .map(|_| ())
        })
        .await
        .map_err(|e| BusError::Ensure {
            what: format!("stream {name}"),
            reason: e.to_string(),
        })
    }

    /// The KV state store of `service` (`<ns>_<service>`), created if missing.
    ///
    /// # Errors
    /// [`BusError::Ensure`].
    pub async fn state(&self, service: Service) -> Result<StateStore, BusError> {
        self.state_bucket(&spec::state_bucket(&self.ns, service), None)
            .await
    }

    pub(crate) async fn state_bucket(
        &self,
        bucket: &str,
        max_age: Option<Duration>,
    ) -> Result<StateStore, BusError> {
        let config = async_nats::jetstream::kv::Config {
            bucket: bucket.to_owned(),
            history: 1,
            num_replicas: self.replicas,
            max_age: max_age.unwrap_or_default(),
            storage: stream::StorageType::File,
            ..Default::default()
        };
        let store = retry_io(&format!("kv {bucket}"), || async {
            self.js.create_or_update_key_value(config.clone()).await
        })
        .await
        .map_err(|e| BusError::Ensure {
            what: format!("kv bucket {bucket}"),
            reason: e.to_string(),
        })?;
        Ok(StateStore::new(bucket.to_owned(), store))
    }

    /// The report object store (`<ns>_reports`), created if missing.
    ///
    /// # Errors
    /// [`BusError::Ensure`].
    pub async fn reports(&self) -> Result<ReportStore, BusError> {
        let bucket = spec::reports_bucket(&self.ns);
        let os =
            match self.js.get_object_store(&bucket).await {
                Ok(os) => os,
                Err(_) => {
                    let config = async_nats::jetstream::object_store::Config {
                        bucket: bucket.clone(),
                        description: Some("submitted scan reports".to_owned()),
                        num_replicas: self.replicas,
                        storage: stream::StorageType::File,
                        ..Default::default()
                    };
                    match self.js.create_object_store(config).await {
                        Ok(os) => os,
                        // Another instance created it in between.
                        Err(create) => self.js.get_object_store(&bucket).await.map_err(|_| {
                            BusError::Ensure {
                                what: format!("object store {bucket}"),
                                reason: create.to_string(),
                            }
                        })?,
                    }
                }
            };
        Ok(ReportStore::new(os))
    }

    /// Publishes one event and waits for its PubAck; returns the stream
    /// sequence. Retries transient failures with the same `Nats-Msg-Id` for
    /// up to [`PUBLISH_RETRY_BUDGET`]; a duplicate inside the window is
    /// acknowledged by the server without being stored again.
    ///
    /// # Errors
    /// [`BusError::Publish`] after the budget, or at once for errors that
    /// cannot heal (wrong last sequence or message id, payload too large).
    pub async fn publish(&self, event: &Event) -> Result<u64, BusError> {
        let subject = event.subject_in(&self.ns);
        let payload = Bytes::from(event.to_json());
        let headers = headers_for(event);
        let started = tokio::time::Instant::now();
        let mut attempt = 0u32;
        loop {
            let result = async {
                self.js
                    .send_publish(
                        subject.clone(),
                        Publish::build()
                            .payload(payload.clone())
                            .headers(headers.clone()),
                    )
                    .await?
                    .await
            }
            .await;
            match result {
                Ok(ack) => return Ok(ack.sequence),
                Err(e) => {
                    let heals = !matches!(
                        e.kind(),
                        PublishErrorKind::WrongLastMessageId
                            | PublishErrorKind::WrongLastSequence
                            | PublishErrorKind::MaxPayloadExceeded
                    );
                    if !heals || started.elapsed() >= PUBLISH_RETRY_BUDGET {
                        return Err(BusError::Publish {
                            subject,
                            event_type: event.event_type().to_owned(),
                            id: event.id,
                            reason: e.to_string(),
                        });
                    }
                    attempt += 1;
                    warn!(event.id = %event.id, %subject, attempt, error = %e, "publish failed, retrying");
                    tokio::time::sleep(backoff(
                        attempt,
                        Duration::from_millis(50),
                        Duration::from_secs(2),
                    ))
                    .await;
                }
            }
        }
    }

    /// Publishes raw bytes on a full `subject` and waits for the PubAck: for
    /// tools and tests that must put something other than an event on the bus.
    ///
    /// # Errors
    /// [`BusError::Publish`].
    pub async fn publish_raw(&self, subject: &str, payload: Vec<u8>) -> Result<u64, BusError> {
        let fail = |e: &dyn std::fmt::Display| BusError::Publish {
            subject: subject.to_owned(),
            event_type: "raw".to_owned(),
            id: uuid::Uuid::nil(),
            reason: e.to_string(),
        };
        self.js
            .publish(subject.to_owned(), Bytes::from(payload))
            .await
            .map_err(|e| fail(&e))?
            .await
            .map(|ack| ack.sequence)
            .map_err(|e| fail(&e))
    }

    /// Publishes many events, pipelining up to 256 PubAcks in flight, and
    /// returns once every one is acknowledged. Failed ones are retried one by
    /// one through [`Bus::publish`] (same ids, so nothing is stored twice).
    ///
    /// # Errors
    /// The first [`BusError::Publish`] that survived its retries.
    pub async fn publish_all(&self, events: &[Event]) -> Result<(), BusError> {
        for chunk in events.chunks(256) {
            let mut pending = Vec::with_capacity(chunk.len());
            for event in chunk {
                let sent = self
                    .js
                    .send_publish(
                        event.subject_in(&self.ns),
                        Publish::build()
                            .payload(Bytes::from(event.to_json()))
                            .headers(headers_for(event)),
                    )
                    .await;
                pending.push(sent);
            }
            // Await the acks together: each one's timeout starts when it is
            // polled, so awaiting them in turn would cost one timeout each
            // while the server is away.
            let acks = futures::future::join_all(pending.into_iter().map(|sent| async move {
                match sent {
                    Ok(ack) => ack.await.is_ok(),
                    Err(_) => false,
                }
            }))
            .await;
            for (event, ok) in chunk.iter().zip(acks) {
                if !ok {
                    self.publish(event).await?;
                }
            }
        }
        Ok(())
    }

    /// The last event stored on `subject_tail` (within this namespace) in
    /// `stream`, with its stream sequence; `None` when there is none.
    ///
    /// # Errors
    /// [`BusError::Io`] when the stream cannot be read, [`BusError::Decode`]
    /// when the stored message is not an event.
    pub async fn last_event(
        &self,
        stream_spec: &StreamSpec,
        subject_tail: &str,
    ) -> Result<Option<(u64, Event)>, BusError> {
        let name = stream_spec.name(&self.ns);
        let stream = self
            .js
            .get_stream_no_info(&name)
            .await
            .map_err(|e| BusError::io(format!("open stream {name}"), e))?;
        let subject = self.ns.subject(subject_tail);
        match stream.get_last_raw_message_by_subject(&subject).await {
            Ok(msg) => {
                let event = Event::from_json(&msg.payload).map_err(|e| BusError::Decode {
                    what: format!("{subject} seq {}", msg.sequence),
                    reason: e.to_string(),
                })?;
                Ok(Some((msg.sequence, event)))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    async_nats::jetstream::stream::LastRawMessageErrorKind::NoMessageFound
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(BusError::io(format!("last message on {subject}"), e)),
        }
    }

    /// The last sequence of a stream (0 when empty).
    ///
    /// # Errors
    /// [`BusError::Io`].
    pub async fn stream_last_sequence(&self, stream_spec: &StreamSpec) -> Result<u64, BusError> {
        let name = stream_spec.name(&self.ns);
        let mut stream = self
            .js
            .get_stream(&name)
            .await
            .map_err(|e| BusError::io(format!("open stream {name}"), e))?;
        let info = stream
            .info()
            .await
            .map_err(|e| BusError::io(format!("info of stream {name}"), e))?;
        Ok(info.state.last_sequence)
    }

    /// Flushes and closes the connection (no reconnect attempts afterwards):
    /// call it before stopping a local server.
    pub async fn close(&self) {
        let _ = self.client.flush().await;
        let _ = self.client.drain().await;
    }

    /// Waits until every message buffered by the client is flushed to the server.
    ///
    /// # Errors
    /// [`BusError::Io`].
    pub async fn flush(&self) -> Result<(), BusError> {
        self.client
            .flush()
            .await
            .map_err(|e| BusError::io("flush", e))
    }
}

fn headers_for(event: &Event) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        async_nats::header::NATS_MESSAGE_ID,
        event.id.to_string().as_str(),
    );
    headers.insert("ce-type", event.event_type());
    if let Some(tp) = &event.traceparent {
        headers.insert("traceparent", tp.as_str());
    }
    headers
}

/// Exponential backoff with ±25 % jitter: `base × 2^(attempt-1)`, capped at `max`.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(max);
    let jitter = rand::random_range(0.75..1.25);
    capped.mul_f64(jitter)
}

/// Retries an idempotent JetStream management call for up to 30 s (the
/// server may be restarting or electing a leader).
async fn retry_io<T, E, F, Fut>(what: &str, mut f: F) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let started = tokio::time::Instant::now();
    let mut attempt = 0;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if started.elapsed() < Duration::from_secs(30) => {
                attempt += 1;
                debug!(what, attempt, error = %e, "jetstream call failed, retrying");
                tokio::time::sleep(backoff(
                    attempt,
                    Duration::from_millis(100),
                    Duration::from_secs(2),
                ))
                .await;
            }
            Err(e) => return Err(e),
        }
    }
}
