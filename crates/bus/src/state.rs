//! Service state in JetStream KV, written with compare-and-set on the
//! revision so several instances of a service can share one durable consumer.

use async_nats::jetstream::kv::{self, Operation};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::BusError;

/// A value and the revision it was read at. `revision == 0` means the key
/// never existed; a deleted key has `value: None` and its tombstone's revision.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    /// The decoded value, if the key holds one.
    pub value: Option<T>,
    /// The revision to pass to [`StateStore::save`].
    pub revision: u64,
}

/// One KV bucket of JSON values.
#[derive(Clone)]
pub struct StateStore {
    bucket: String,
    kv: kv::Store,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore")
            .field("bucket", &self.bucket)
            .finish()
    }
}

impl StateStore {
    pub(crate) fn new(bucket: String, kv: kv::Store) -> Self {
        StateStore { bucket, kv }
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Reads and decodes `key`.
    ///
    /// # Errors
    /// [`BusError::Io`] when the bucket cannot be read, [`BusError::Decode`]
    /// when the value is not the expected JSON.
    pub async fn load<T: DeserializeOwned>(&self, key: &str) -> Result<Versioned<T>, BusError> {
        let entry = self
            .kv
            .entry(key)
            .await
            .map_err(|e| BusError::io(format!("read {}/{key}", self.bucket), e))?;
        match entry {
            None => Ok(Versioned {
                value: None,
                revision: 0,
            }),
            Some(e) if e.operation != Operation::Put => Ok(Versioned {
                value: None,
                revision: e.revision,
            }),
            Some(e) => {
                let value = serde_json::from_slice(&e.value).map_err(|err| BusError::Decode {
                    what: format!("{}/{key}", self.bucket),
                    reason: err.to_string(),
                })?;
                Ok(Versioned {
                    value: Some(value),
                    revision: e.revision,
                })
            }
        }
    }

    /// Writes `value` if `key` is still at `revision` (0 = must not exist yet);
    /// returns the new revision.
    ///
    /// # Errors
    /// [`BusError::Conflict`] when another writer got there first (reload and
    /// decide again), [`BusError::Io`] otherwise.
    pub async fn save<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        revision: u64,
    ) -> Result<u64, BusError> {
        let bytes = Bytes::from(serde_json::to_vec(value).map_err(|e| BusError::Decode {
            what: format!("encode {}/{key}", self.bucket),
            reason: e.to_string(),
        })?);
        let conflict = || BusError::Conflict {
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            revision,
        };
        if revision == 0 {
            self.kv
                .create(key, bytes)
                .await
                .map_err(|e| match e.kind() {
                    kv::CreateErrorKind::AlreadyExists => conflict(),
                    _ => BusError::io(format!("create {}/{key}", self.bucket), e),
                })
        } else {
            self.kv
                .update(key, bytes, revision)
                .await
                .map_err(|e| match e.kind() {
                    kv::UpdateErrorKind::WrongLastRevision => conflict(),
                    _ => BusError::io(format!("update {}/{key}", self.bucket), e),
                })
        }
    }

    /// Writes `value` whatever the current revision (last writer wins). Only
    /// for values nobody else writes (a lease renewal, a cache).
    ///
    /// # Errors
    /// [`BusError::Io`].
    pub async fn put<T: Serialize>(&self, key: &str, value: &T) -> Result<u64, BusError> {
        let bytes = serde_json::to_vec(value).map_err(|e| BusError::Decode {
            what: format!("encode {}/{key}", self.bucket),
            reason: e.to_string(),
        })?;
        self.kv
            .put(key, Bytes::from(bytes))
            .await
            .map_err(|e| BusError::io(format!("put {}/{key}", self.bucket), e))
    }

    /// Deletes `key` if it is still at `revision`.
    ///
    /// # Errors
    /// [`BusError::Conflict`] or [`BusError::Io`].
    pub async fn delete(&self, key: &str, revision: u64) -> Result<(), BusError> {
        self.kv
            .delete_expect_revision(key, Some(revision))
            .await
            .map_err(|e| {
                if e.to_string().contains("wrong last sequence") {
                    BusError::Conflict {
                        bucket: self.bucket.clone(),
                        key: key.to_owned(),
                        revision,
                    }
                } else {
                    BusError::io(format!("delete {}/{key}", self.bucket), e)
                }
            })
    }

    /// Every live key of the bucket.
    ///
    /// # Errors
    /// [`BusError::Io`].
    pub async fn keys(&self) -> Result<Vec<String>, BusError> {
        use futures::TryStreamExt;
        let keys = self
            .kv
            .keys()
            .await
            .map_err(|e| BusError::io(format!("list {}", self.bucket), e))?;
        keys.try_collect()
            .await
            .map_err(|e| BusError::io(format!("list {}", self.bucket), e))
    }
}

impl StateStore {
    /// Read-modify-write of one key with compare-and-set, retried until it
    /// lands: `change` edits the value (the default when absent) and says
    /// whether it changed anything; nothing is written when it did not.
    ///
    /// # Errors
    /// [`BusError::Io`] or [`BusError::Decode`]; conflicts are retried.
    pub async fn modify<T>(
        &self,
        key: &str,
        mut change: impl FnMut(&mut T) -> bool,
    ) -> Result<(), BusError>
    where
        T: Serialize + DeserializeOwned + Default,
    {
        loop {
            let current = self.load::<T>(key).await?;
            let mut value = current.value.unwrap_or_default();
            if !change(&mut value) {
                return Ok(());
            }
            match self.save(key, &value, current.revision).await {
                Ok(_) => return Ok(()),
                Err(BusError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Live keys that start with `prefix`. Lists the whole bucket: for
    /// occasional work (planning a scan), not for every tick.
    ///
    /// # Errors
    /// [`BusError::Io`].
    pub async fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<String>, BusError> {
        let mut keys = self.keys().await?;
        keys.retain(|k| k.starts_with(prefix));
        Ok(keys)
    }
}

/// The longest part [`kv_key`] writes, in bytes: a KV key is a NATS
/// subject, and a protocol line over 4,096 bytes drops the connection.
pub const MAX_KEY_PART: usize = 200;

/// Builds a valid KV key from parts joined with `.`: characters outside
/// `[A-Za-z0-9_-]` become `=XX` (hex of each UTF-8 byte), so any host name or
/// id can be a key part and distinct parts never collide.
///
/// A part whose escaped form is longer than [`MAX_KEY_PART`] bytes keeps its
/// first 166 bytes, then `==` and [`events::subject::value_digest`] of the
/// part: exactly [`MAX_KEY_PART`] bytes. `==` never occurs in a short part
/// (every `=` there is followed by two hex digits), so keys stay distinct
/// unless two long parts' SHA-256 share their first 128 bits.
pub fn kv_key(parts: &[&str]) -> String {
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        let start = out.len();
        if part.is_empty() {
            out.push_str("=00");
        }
        for b in part.bytes() {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
                out.push(b as char);
            } else {
                out.push_str(&format!("={b:02X}"));
            }
        }
        events::subject::bound_escaped(&mut out, start, MAX_KEY_PART, "==", part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::kv_key;

    #[test]
    fn keys_are_valid_and_injective() {
        assert_eq!(kv_key(&["run", "b1", "prod"]), "run.b1.prod");
        assert_eq!(kv_key(&["host", "10.0.0.1"]), "host.10=2E0=2E0=2E1");
        assert_ne!(kv_key(&["a.b"]), kv_key(&["a", "b"]));
        assert_ne!(kv_key(&["a=2Eb"]), kv_key(&["a.b"]));
    }

    #[test]
    fn long_parts_are_bounded_and_stay_distinct() {
        let long = "h".repeat(5000);
        let key = kv_key(&["known", &long]);
        let part = key.strip_prefix("known.").unwrap();
        assert_eq!(part.len(), super::MAX_KEY_PART);
        assert_eq!(part.get(166..168), Some("=="));
        assert_ne!(kv_key(&["known", &format!("{long}x")]), key);
        assert_eq!(
            kv_key(&["known", &long]),
            key,
            "the same part, the same key"
        );
        let edge = "e".repeat(super::MAX_KEY_PART);
        assert_eq!(kv_key(&[&edge]), edge);
        assert_eq!(kv_key(&[&".".repeat(80)]).len(), super::MAX_KEY_PART);
    }
}
