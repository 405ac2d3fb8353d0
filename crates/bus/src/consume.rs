//! The consume loop: durable pull consumers, explicit acks, dead letters.
//!
//! For every message: decode the envelope (poison → dead letter) → run the
//! service's [`Handler`] inside a span parented on the event's `traceparent`
//! → on `Ok` ack; on [`HandleError::Poison`] copy to
//! `patch.deadletter.<service>` with the reason, then terminate; on
//! [`HandleError::Transient`] nak with backoff, or dead-letter once
//! `max_deliver` deliveries are spent. While a handler runs, the message's ack
//! deadline is extended (`+WPI`) so long work (a 1 GB report) is not
//! redelivered under it.
//!
//! The loop re-creates its consumer after missed idle heartbeats, a deleted
//! consumer or a server restart, and stops between messages when its
//! cancellation token fires: in-flight work is finished and acknowledged
//! first (SIGTERM drains).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::{AckKind, Message};
use base64::Engine as _;
use chrono::Utc;
use events::spec::{ConsumerSpec, StreamSpec};
use events::{DeadLettered, Event, Service};
use futures::StreamExt;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, error, info, info_span, warn};
use uuid::Uuid;

use crate::{Bus, BusError, backoff};

/// Namespace of dead-letter event ids: `v5(DEADLETTER_NAMESPACE,
/// "<service>/<stream>/<sequence>")`, so a message dead-lettered twice gives
/// one dead letter.
pub const DEADLETTER_NAMESPACE: Uuid = Uuid::from_u128(0x5c1e_0dea_d1e7_4e11_9a7c_0000_0000_0001);

/// Largest payload copied into a dead letter (bytes); longer ones are cut
/// and the reason says so (NATS messages are limited to 1 MiB).
pub const DEADLETTER_MAX_PAYLOAD: usize = 256 * 1024;

/// Longest reason kept in a dead letter (bytes); a longer one (an error
/// that quotes its input) is cut at a character boundary and says so.
pub const DEADLETTER_MAX_REASON: usize = 16 * 1024;

/// One message handed to a [`Handler`].
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The decoded event.
    pub event: Event,
    /// The subject it was published on.
    pub subject: String,
    /// The stream it was read from.
    pub stream: String,
    /// Its stream sequence.
    pub stream_sequence: u64,
    /// How many times it has been delivered (1 on the first delivery).
    pub delivered: u64,
}

/// Why a handler did not finish a message.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The message can never succeed (it does not fit the schema of its type,
    /// or it is for another stage): terminate and dead-letter it.
    #[error("poison: {0}")]
    Poison(String),
    /// The machinery failed (publish, KV conflict, a server restart): nak and
    /// retry with backoff.
    #[error("transient: {0}")]
    Transient(String),
}

impl From<BusError> for HandleError {
    fn from(e: BusError) -> Self {
        HandleError::Transient(e.to_string())
    }
}

/// A service's message handler. `handle` must be idempotent: a redelivered
/// message gives the same output ids (derived ids) and the same state.
pub trait Handler: Send + Sync + 'static {
    /// Handles one message; returns `Ok` only once every output is
    /// acknowledged by the server and every state write is stored.
    fn handle(&self, delivery: Delivery) -> impl Future<Output = Result<(), HandleError>> + Send;
}

/// How [`serve`] schedules the messages of its consumers. A plain `bool`
/// converts into it: `true` = [`ServeOptions::SERIAL`], `false` =
/// [`ServeOptions::IN_ORDER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// One message at a time across all consumers of this process
    /// (state-heavy services avoid compare-and-set conflicts with
    /// themselves). Wins over `lanes`.
    pub serial: bool,
    /// Messages handled at once per consumer. `1`: in stream order, one
    /// after the other. Above 1: each message goes to one of `lanes` lanes
    /// chosen by a hash of its event's `subject` (the entity it is about: a
    /// finding id, a bundle id); a lane handles its messages one at a time
    /// in stream order, so two messages about the same entity are never
    /// handled at once nor out of order, while different entities proceed
    /// in parallel. Acknowledgement rules do not change: each message is
    /// acked only after its handler returned `Ok`.
    pub lanes: usize,
    /// When set, `lanes` applies only to the consumers of the stream with
    /// this suffix ([`StreamSpec::suffix`]); the others run in order.
    pub lanes_stream: Option<&'static str>,
}

impl ServeOptions {
    /// One message at a time across every consumer.
    pub const SERIAL: ServeOptions = ServeOptions {
        serial: true,
        lanes: 1,
        lanes_stream: None,
    };
    /// Each consumer in order, consumers in parallel.
    pub const IN_ORDER: ServeOptions = ServeOptions {
        serial: false,
        lanes: 1,
        lanes_stream: None,
    };

    /// `lanes` messages at once per consumer, in order per event subject
    /// (see [`ServeOptions::lanes`]); `0` counts as 1.
    pub fn keyed(lanes: usize) -> ServeOptions {
        ServeOptions {
            serial: false,
            lanes: lanes.max(1),
            lanes_stream: None,
        }
    }

    /// Restricts the lanes to the consumers of `stream`; the service's
    /// other consumers keep handling their messages in order.
    pub fn only_on(self, stream: &StreamSpec) -> ServeOptions {
        ServeOptions {
            lanes_stream: Some(stream.suffix),
            ..self
        }
    }

    /// The lanes `spec` gets under these options (1 = in order).
    fn lanes_for(&self, spec: &ConsumerSpec) -> usize {
        let applies = self
            .lanes_stream
            .is_none_or(|suffix| suffix == spec.stream.suffix);
        if self.serial || !applies {
            1
        } else {
            self.lanes.max(1)
        }
    }
}

impl From<bool> for ServeOptions {
    fn from(serial: bool) -> Self {
        if serial {
            ServeOptions::SERIAL
        } else {
            ServeOptions::IN_ORDER
        }
    }
}

/// How long a lane's queue is: messages a consumer has taken from the
/// server for a lane but not started. Short, so a queued message does not
/// wait long without progress acks.
const LANE_QUEUE: usize = 2;

/// Runs `handler` on every consumer of `consumers` until `token` fires, then
/// finishes in-flight messages and returns.
///
/// `options` (or a `bool`, see [`ServeOptions`]): with `serial`, one message
/// at a time is handled across all consumers of this process; otherwise
/// each consumer handles its messages in order, consumers in parallel; with
/// [`ServeOptions::keyed`], up to `lanes` messages of one consumer at once,
/// in order per event subject.
///
/// # Errors
/// Never for transient trouble (it retries); only [`BusError::Ensure`] when a
/// consumer's stream does not exist at start.
pub async fn serve<H: Handler>(
    bus: &Bus,
    service: Service,
    consumers: Vec<ConsumerSpec>,
    handler: Arc<H>,
    options: impl Into<ServeOptions>,
    token: CancellationToken,
) -> Result<(), BusError> {
    let options = options.into();
    let gate = options.serial.then(|| Arc::new(Mutex::new(())));
    let tracker = TaskTracker::new();
    for spec in consumers {
        let lanes = options.lanes_for(&spec);
        let bus = bus.clone();
        let handler = handler.clone();
        let token = token.clone();
        let gate = gate.clone();
        tracker.spawn(async move {
            if lanes > 1 {
                consume_in_lanes(bus, service, spec, handler, lanes, token).await;
            } else {
                consume_loop(bus, service, spec, handler, gate, token).await;
            }
        });
    }
    tracker.close();
    tracker.wait().await;
    Ok(())
}

async fn consume_loop<H: Handler>(
    bus: Bus,
    service: Service,
    spec: ConsumerSpec,
    handler: Arc<H>,
    gate: Option<Arc<Mutex<()>>>,
    token: CancellationToken,
) {
    let stream_name = spec.stream.name(bus.namespace());
    let mut failures = 0u32;
    while !token.is_cancelled() {
        let messages = match open_messages(&bus, &spec).await {
            Ok(m) => m,
            Err(e) => {
                failures += 1;
                warn!(%service, stream = %stream_name, consumer = %spec.durable, error = %e, "consumer unavailable, retrying");
                let wait = backoff(failures, Duration::from_millis(200), Duration::from_secs(5));
                tokio::select! {
                    () = token.cancelled() => return,
                    () = tokio::time::sleep(wait) => continue,
                }
            }
        };
        failures = 0;
        debug!(%service, stream = %stream_name, consumer = %spec.durable, "consuming");
        let mut messages = std::pin::pin!(messages);
        loop {
            let next = tokio::select! {
                () = token.cancelled() => return,
                next = messages.next() => next,
            };
            match next {
                Some(Ok(msg)) => {
                    let _guard = match &gate {
                        Some(g) => Some(g.lock().await),
                        None => None,
                    };
                    process(&bus, service, &spec, handler.as_ref(), msg).await;
                }
                Some(Err(e)) => {
                    warn!(%service, stream = %stream_name, consumer = %spec.durable, error = %e, "pull failed, re-creating consumer");
                    break;
                }
                None => break,
            }
        }
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

/// The lane of a decoded message: a hash of its event's subject; an
/// undecodable message goes to lane 0 (it is dead-lettered there).
fn lane_of(decoded: &Result<Event, String>, lanes: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let Ok(event) = decoded else {
        return 0;
    };
    let mut h = std::hash::DefaultHasher::new();
    event.subject.hash(&mut h);
    usize::try_from(h.finish() % lanes as u64).unwrap_or(0)
}

/// [`consume_loop`] with `lanes` messages in flight, in order per event
/// subject (see [`ServeOptions::lanes`]). The lanes outlive re-created
/// consumers; on cancellation the queued and in-flight messages are
/// finished (and acked) before it returns.
async fn consume_in_lanes<H: Handler>(
    bus: Bus,
    service: Service,
    spec: ConsumerSpec,
    handler: Arc<H>,
    lanes: usize,
    token: CancellationToken,
) {
    type Work = (Message, Result<Event, String>);
    let spec = Arc::new(spec);
    let workers = TaskTracker::new();
    let mut senders = Vec::with_capacity(lanes);
    for _ in 0..lanes {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Work>(LANE_QUEUE);
        senders.push(tx);
        let (bus, spec, handler) = (bus.clone(), spec.clone(), handler.clone());
        workers.spawn(async move {
            while let Some((msg, decoded)) = rx.recv().await {
                process_decoded(&bus, service, &spec, handler.as_ref(), msg, decoded).await;
            }
        });
    }
    workers.close();
    let stream_name = spec.stream.name(bus.namespace());
    let mut failures = 0u32;
    'consumer: while !token.is_cancelled() {
        let messages = match open_messages(&bus, &spec).await {
            Ok(m) => m,
            Err(e) => {
                failures += 1;
                warn!(%service, stream = %stream_name, consumer = %spec.durable, error = %e, "consumer unavailable, retrying");
                let wait = backoff(failures, Duration::from_millis(200), Duration::from_secs(5));
                tokio::select! {
                    () = token.cancelled() => break 'consumer,
                    () = tokio::time::sleep(wait) => continue,
                }
            }
        };
        failures = 0;
        debug!(%service, stream = %stream_name, consumer = %spec.durable, lanes, "consuming");
        let mut messages = std::pin::pin!(messages);
        loop {
            let next = tokio::select! {
                () = token.cancelled() => break 'consumer,
                next = messages.next() => next,
            };
            match next {
                Some(Ok(msg)) => {
                    let decoded = Event::from_json(&msg.payload).map_err(|e| e.to_string());
                    let lane = lane_of(&decoded, lanes);
                    if let Some(tx) = senders.get(lane)
                        && tx.send((msg, decoded)).await.is_err()
                    {
                        // A lane stopped (it only does when its task
                        // panicked): the message stays unacked and is
                        // redelivered after its ack wait.
                        error!(%service, consumer = %spec.durable, lane, "lane stopped");
                    }
                }
                Some(Err(e)) => {
                    warn!(%service, stream = %stream_name, consumer = %spec.durable, error = %e, "pull failed, re-creating consumer");
                    break;
                }
                None => break,
            }
        }
        tokio::select! {
            () = token.cancelled() => break 'consumer,
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    // Drain: finish what the lanes hold, then return.
    drop(senders);
    workers.wait().await;
}

async fn open_messages(bus: &Bus, spec: &ConsumerSpec) -> Result<pull::Stream, BusError> {
    let ns = bus.namespace();
    let name = spec.stream.name(ns);
    let stream = bus
        .js()
        .get_stream_no_info(&name)
        .await
        .map_err(|e| BusError::io(format!("open stream {name}"), e))?;
    let config = pull::Config {
        durable_name: Some(spec.durable.clone()),
        filter_subjects: spec.filters(ns),
        ack_policy: AckPolicy::Explicit,
        ack_wait: spec.ack_wait,
        max_deliver: spec.max_deliver,
        deliver_policy: DeliverPolicy::All,
        max_ack_pending: 1000,
        ..Default::default()
    };
    let consumer: async_nats::jetstream::consumer::Consumer<pull::Config> = stream
        .create_consumer(config)
        .await
        .map_err(|e| BusError::io(format!("consumer {} on {name}", spec.durable), e))?;
    consumer
        .stream()
        .heartbeat(Duration::from_secs(5))
        .expires(Duration::from_secs(30))
        .max_messages_per_batch(64)
        .messages()
        .await
        .map_err(|e| BusError::io(format!("pull from {} on {name}", spec.durable), e))
}

async fn process<H: Handler>(
    bus: &Bus,
    service: Service,
    spec: &ConsumerSpec,
    handler: &H,
    msg: Message,
) {
    let decoded = Event::from_json(&msg.payload).map_err(|e| e.to_string());
    process_decoded(bus, service, spec, handler, msg, decoded).await;
}

/// [`process`] for a message whose payload was already decoded.
async fn process_decoded<H: Handler>(
    bus: &Bus,
    service: Service,
    spec: &ConsumerSpec,
    handler: &H,
    msg: Message,
    decoded: Result<Event, String>,
) {
    let (stream, stream_sequence, delivered) = match msg.info() {
        Ok(i) => (
            i.stream.to_owned(),
            i.stream_sequence,
            u64::try_from(i.delivered).unwrap_or(1),
        ),
        Err(e) => {
            // Not a JetStream message: nothing to ack.
            warn!(%service, error = %e, "message without jetstream metadata ignored");
            return;
        }
    };
    let subject = msg.subject.to_string();
    let result = match decoded {
        Ok(event) => {
            let parent = event.traceparent.clone();
            let span = info_span!(
                "handle",
                otel.name = %format!("{} process", subject),
                messaging.system = "nats",
                messaging.operation = "process",
                messaging.destination.name = %subject,
                messaging.message.id = %event.id,
                messaging.consumer.group.name = %spec.durable,
                event.r#type = event.event_type(),
                event.subject = %event.subject,
                service = %service,
                traceparent = parent.as_deref().unwrap_or(""),
            );
            let delivery = Delivery {
                event,
                subject: subject.clone(),
                stream: stream.clone(),
                stream_sequence,
                delivered,
            };
            with_progress(&msg, spec.ack_wait, handler.handle(delivery))
                .instrument(span)
                .await
        }
        Err(e) => Err(HandleError::Poison(e)),
    };
    match result {
        Ok(()) => {
            if let Err(e) = msg.ack().await {
                // The work is stored and published with stable ids; a
                // redelivery will be a no-op.
                warn!(%service, %subject, stream_sequence, error = %e, "ack failed, message will be redelivered");
            }
        }
        Err(HandleError::Poison(reason)) => {
            warn!(%service, %subject, stream_sequence, %reason, "poison message, dead-lettering");
            terminate(
                bus,
                service,
                &msg,
                &stream,
                stream_sequence,
                delivered,
                reason,
            )
            .await;
        }
        Err(HandleError::Transient(reason)) => {
            if i64::try_from(delivered).unwrap_or(i64::MAX) >= spec.max_deliver {
                let reason = format!("gave up after {delivered} deliveries: {reason}");
                error!(%service, %subject, stream_sequence, %reason, "dead-lettering");
                terminate(
                    bus,
                    service,
                    &msg,
                    &stream,
                    stream_sequence,
                    delivered,
                    reason,
                )
                .await;
            } else {
                let delay = backoff(
                    u32::try_from(delivered).unwrap_or(u32::MAX),
                    Duration::from_millis(50),
                    Duration::from_secs(10),
                );
                info!(%service, %subject, stream_sequence, delivered, %reason, ?delay, "transient failure, nak");
                if let Err(e) = msg.ack_with(AckKind::Nak(Some(delay))).await {
                    warn!(%service, error = %e, "nak failed, message will be redelivered after ack wait");
                }
            }
        }
    }
}

/// Runs `work`, telling the server every third of `ack_wait` that the message
/// is still in progress.
async fn with_progress<T>(msg: &Message, ack_wait: Duration, work: impl Future<Output = T>) -> T {
    let mut work = std::pin::pin!(work);
    // The first tick one period from now. (`interval` + awaiting its
    // immediate first tick would wait for a turn of the timer wheel, about
    // a millisecond, on every message.)
    let period = (ack_wait / 3).max(Duration::from_millis(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tick.tick() => {
                let _ = msg.ack_with(AckKind::Progress).await;
            }
        }
    }
}

async fn terminate(
    bus: &Bus,
    service: Service,
    msg: &Message,
    stream: &str,
    stream_sequence: u64,
    delivered: u64,
    reason: String,
) {
    let letter = dead_letter(service, msg, stream, stream_sequence, delivered, reason);
    // Keep trying: a message is terminated only once its dead letter is stored.
    let mut attempt = 0;
    loop {
        match bus.publish(&letter).await {
            Ok(_) => break,
            Err(e) => {
                attempt += 1;
                error!(%service, stream_sequence, error = %e, attempt, "dead letter not stored yet, retrying");
                tokio::time::sleep(backoff(
                    attempt,
                    Duration::from_secs(1),
                    Duration::from_secs(30),
                ))
                .await;
            }
        }
    }
    if let Err(e) = msg.ack_with(AckKind::Term).await {
        warn!(%service, stream_sequence, error = %e, "term failed; the dead letter is stored, a redelivery will dead-letter it again under the same id");
    }
}

/// Cuts `reason` to at most `max` bytes at a character boundary, saying
/// how long it was; a shorter one is left as it is.
fn cut_reason(reason: &mut String, max: usize) {
    if reason.len() <= max {
        return;
    }
    let total = reason.len();
    let mut at = max;
    while !reason.is_char_boundary(at) {
        at -= 1;
    }
    reason.truncate(at);
    reason.push_str(&format!(" … (reason of {total} bytes cut)"));
}

fn dead_letter(
    service: Service,
    msg: &Message,
    stream: &str,
    stream_sequence: u64,
    delivered: u64,
    mut reason: String,
) -> Event {
    cut_reason(&mut reason, DEADLETTER_MAX_REASON);
    let payload: &[u8] = &msg.payload;
    let cut = payload.len() > DEADLETTER_MAX_PAYLOAD;
    let kept = &payload[..payload.len().min(DEADLETTER_MAX_PAYLOAD)];
    if cut {
        reason.push_str(&format!(
            " (payload of {} bytes cut to {DEADLETTER_MAX_PAYLOAD})",
            payload.len()
        ));
    }
    let (payload_text, payload_base64) = match std::str::from_utf8(kept) {
        Ok(s) => (Some(s.to_owned()), None),
        Err(_) => (
            None,
            Some(base64::engine::general_purpose::STANDARD.encode(kept)),
        ),
    };
    let id = Uuid::new_v5(
        &DEADLETTER_NAMESPACE,
        format!("{service}/{stream}/{stream_sequence}").as_bytes(),
    );
    Event::new(
        id,
        service,
        Utc::now(),
        DeadLettered {
            service,
            reason,
            subject: msg.subject.to_string(),
            stream: stream.to_owned(),
            stream_sequence,
            delivered,
            payload_text,
            payload_base64,
        },
    )
}

/// A message read by [`replay`]: raw, so the reader decides what an
/// undecodable one means for it.
#[derive(Debug, Clone)]
pub struct RawMessage {
    /// Stream sequence.
    pub stream_sequence: u64,
    /// Subject.
    pub subject: String,
    /// Payload bytes.
    pub payload: bytes::Bytes,
}

/// Reads `stream` in order from sequence `from` (1 = the beginning) through
/// an ordered consumer (ephemeral, no acks; it re-creates itself on gaps).
/// The caller keeps its own position and calls again after an error.
///
/// # Errors
/// [`BusError::Io`] when the stream or consumer cannot be opened.
pub async fn replay(
    bus: &Bus,
    stream: &StreamSpec,
    from: u64,
) -> Result<impl futures::Stream<Item = Result<RawMessage, BusError>> + Send + use<>, BusError> {
    let name = stream.name(bus.namespace());
    let s = bus
        .js()
        .get_stream_no_info(&name)
        .await
        .map_err(|e| BusError::io(format!("open stream {name}"), e))?;
    let consumer = s
        .create_consumer(pull::OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: from.max(1),
            },
            ..Default::default()
        })
        .await
        .map_err(|e| BusError::io(format!("ordered consumer on {name}"), e))?;
    let messages = consumer
        .messages()
        .await
        .map_err(|e| BusError::io(format!("read {name}"), e))?;
    Ok(messages.map(move |m| match m {
        Ok(msg) => {
            let seq = msg.info().map(|i| i.stream_sequence).unwrap_or_default();
            Ok(RawMessage {
                stream_sequence: seq,
                subject: msg.subject.to_string(),
                payload: msg.payload.clone(),
            })
        }
        Err(e) => Err(BusError::io("ordered read", e)),
    }))
}

/// How often [`follow`] checks a silent replay against the stream's end.
pub const FOLLOW_STALL_CHECK: Duration = Duration::from_secs(2);

/// Follows `stream` from sequence `from` for as long as the returned
/// receiver lives (or `token` fires): every message, in order, exactly once.
///
/// An ordered consumer can fall silent after a server restart without
/// reporting an error; `follow` notices (no message for
/// [`FOLLOW_STALL_CHECK`] while the stream's last sequence is past the next
/// expected one) and re-creates it at the next sequence, as it does after
/// any error.
pub fn follow(
    bus: &Bus,
    stream: StreamSpec,
    from: u64,
    token: CancellationToken,
) -> tokio::sync::mpsc::Receiver<RawMessage> {
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let bus = bus.clone();
    tokio::spawn(async move {
        let name = stream.name(bus.namespace());
        let mut next = from.max(1);
        let mut failures = 0;
        while !token.is_cancelled() && !tx.is_closed() {
            let messages = match replay(&bus, &stream, next).await {
                Ok(m) => m,
                Err(e) => {
                    failures += 1;
                    debug!(stream = %name, error = %e, "replay unavailable, retrying");
                    let wait =
                        backoff(failures, Duration::from_millis(200), Duration::from_secs(5));
                    tokio::select! {
                        () = token.cancelled() => return,
                        () = tokio::time::sleep(wait) => continue,
                    }
                }
            };
            failures = 0;
            let mut messages = std::pin::pin!(messages);
            loop {
                let item = tokio::select! {
                    () = token.cancelled() => return,
                    () = tx.closed() => return,
                    item = tokio::time::timeout(FOLLOW_STALL_CHECK, messages.next()) => item,
                };
                match item {
                    Ok(Some(Ok(m))) => {
                        if m.stream_sequence < next {
                            continue;
                        }
                        next = m.stream_sequence + 1;
                        if tx.send(m).await.is_err() {
                            return;
                        }
                    }
                    Ok(Some(Err(e))) => {
                        debug!(stream = %name, error = %e, "replay interrupted, re-creating");
                        break;
                    }
                    Ok(None) => break,
                    Err(_silent) => match bus.stream_last_sequence(&stream).await {
                        Ok(last) if last >= next => {
                            info!(stream = %name, next, last, "replay stalled, re-creating");
                            break;
                        }
                        _ => {}
                    },
                }
            }
            tokio::select! {
                () = token.cancelled() => return,
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use events::spec;

    use super::*;

    #[test]
    fn long_dead_letter_reasons_are_cut_at_a_char_boundary() {
        let mut short = "fine".to_owned();
        cut_reason(&mut short, 16);
        assert_eq!(short, "fine");
        // 'é' is two bytes: byte 5 is inside the third one.
        let mut long = "éééééé".to_owned();
        cut_reason(&mut long, 5);
        assert_eq!(long, "éé … (reason of 12 bytes cut)");
        let mut huge = "x".repeat(5 * DEADLETTER_MAX_REASON);
        cut_reason(&mut huge, DEADLETTER_MAX_REASON);
        assert!(huge.len() < DEADLETTER_MAX_REASON + 64, "{}", huge.len());
    }

    #[test]
    fn lanes_per_consumer() {
        // Schedule reads scans, findings, validations, deployments and
        // operators' approvals.
        let consumers = spec::consumers(Service::Schedule);
        let lanes =
            |o: ServeOptions| -> Vec<usize> { consumers.iter().map(|c| o.lanes_for(c)).collect() };
        assert_eq!(lanes(ServeOptions::from(false)), [1, 1, 1, 1, 1]);
        assert_eq!(lanes(ServeOptions::from(true)), [1, 1, 1, 1, 1]);
        assert_eq!(lanes(ServeOptions::keyed(16)), [16, 16, 16, 16, 16]);
        assert_eq!(
            lanes(ServeOptions::keyed(16).only_on(&spec::FINDINGS)),
            [1, 16, 1, 1, 1]
        );
        assert_eq!(lanes(ServeOptions::keyed(0)), [1, 1, 1, 1, 1]);
        let serial = ServeOptions {
            serial: true,
            ..ServeOptions::keyed(16)
        };
        assert_eq!(lanes(serial), [1, 1, 1, 1, 1], "serial wins");
    }
}
