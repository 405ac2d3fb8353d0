//! Dead letters: messages that can never succeed, kept with the reason.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Service;

/// `patch.deadletter.<service>`: a message a service terminated.
///
/// The original bytes are kept: as text when they are UTF-8, else base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeadLettered {
    /// The service that gave up.
    pub service: Service,
    /// Why (`undecodable envelope: expected value at line 1 column 1`).
    pub reason: String,
    /// The original subject.
    pub subject: String,
    /// The stream it was read from.
    pub stream: String,
    /// Its stream sequence.
    pub stream_sequence: u64,
    /// How many times it was delivered.
    pub delivered: u64,
    /// The payload, when it is valid UTF-8.
    pub payload_text: Option<String>,
    /// The payload in standard base64, when it is not UTF-8.
    pub payload_base64: Option<String>,
}
