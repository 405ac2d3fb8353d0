//! Submitted reports in the JetStream object store: reports travel by
//! reference, never inline (NATS messages are limited to 1 MiB).

use async_nats::jetstream::object_store::{ObjectMetadata, ObjectStore};
use tokio::io::AsyncRead;

use crate::BusError;

/// What the object store recorded for a stored report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReport {
    /// Object name.
    pub name: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// `SHA-256=<base64url>` digest computed by the object store.
    pub digest: Option<String>,
}

/// The reports bucket.
#[derive(Clone)]
pub struct ReportStore {
    os: ObjectStore,
}

impl std::fmt::Debug for ReportStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReportStore")
    }
}

impl ReportStore {
    pub(crate) fn new(os: ObjectStore) -> Self {
        ReportStore { os }
    }

    /// Streams `data` into the bucket under `name` (chunked; never held whole
    /// in memory).
    ///
    /// # Errors
    /// [`BusError::Io`].
    pub async fn put(
        &self,
        name: &str,
        data: &mut (impl AsyncRead + Unpin),
    ) -> Result<StoredReport, BusError> {
        let info = self
            .os
            .put(
                ObjectMetadata {
                    name: name.to_owned(),
                    ..Default::default()
                },
                data,
            )
            .await
            .map_err(|e| BusError::io(format!("store report {name}"), e))?;
        Ok(StoredReport {
            name: info.name,
            size_bytes: info.size as u64,
            digest: info.digest,
        })
    }

    /// Opens a stored report for streaming reads.
    ///
    /// # Errors
    /// [`BusError::NotFound`] when it does not exist, [`BusError::Io`] when it
    /// cannot be read.
    pub async fn open(
        &self,
        name: &str,
    ) -> Result<impl AsyncRead + Unpin + Send + 'static, BusError> {
        self.os.get(name).await.map_err(|e| match e.kind() {
            async_nats::jetstream::object_store::GetErrorKind::NotFound => BusError::NotFound {
                what: format!("report {name:?} in the object store"),
            },
            _ => BusError::io(format!("open report {name}"), e),
        })
    }

    /// Size and digest of a stored report.
    ///
    /// # Errors
    /// [`BusError::Io`].
    pub async fn info(&self, name: &str) -> Result<StoredReport, BusError> {
        let info = self
            .os
            .info(name)
            .await
            .map_err(|e| BusError::io(format!("info of report {name}"), e))?;
        Ok(StoredReport {
            name: info.name,
            size_bytes: info.size as u64,
            digest: info.digest,
        })
    }
}
