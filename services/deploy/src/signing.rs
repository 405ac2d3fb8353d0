//! Signed host jobs (issue 5, item 8): deploy signs every `AgentJob` it
//! publishes with an Ed25519 key (RFC 8032); the agent verifies the
//! signature with the matching public key and refuses a job whose signature
//! is missing or wrong.
//!
//! What is signed: [`AgentJob::signing_bytes`], the context string
//! `patchflow/agent-job/v1\n` followed by the job's compact JSON without its
//! `signature` field. The signature goes into [`AgentJob::signature`] as 128
//! lowercase hex digits. Ed25519 is deterministic: a job decided again after
//! a redelivery gets the same signature for the same bytes.
//!
//! Key files are PEM, the formats OpenSSL writes:
//!
//! - private key: PKCS#8 (RFC 5958 / RFC 8410), `-----BEGIN PRIVATE KEY-----`,
//!   e.g. `openssl genpkey -algorithm ed25519 -out job-signing.pem`;
//! - public key: SubjectPublicKeyInfo (RFC 8410),
//!   `-----BEGIN PUBLIC KEY-----`, e.g.
//!   `openssl pkey -in job-signing.pem -pubout -out job-signing.pub.pem`.
//!
//! [`JobSigner::load_or_create`] writes such a pair itself (private key mode
//! 0600), which `patchflow up` uses when no key is configured.
//!
//! Signing happens at the edge, in the adapter, right before publishing:
//! the ring run ([`crate::run`]) stays pure and key-free.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use events::{AgentJob, Payload};

use crate::Output;

/// The default private key file name under the data folder
/// (`<data_dir>/job-signing.pem`).
pub const DEFAULT_KEY_FILE: &str = "job-signing.pem";

/// Why a signing key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file cannot be read or written.
    #[error("job signing key {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a PKCS#8 PEM Ed25519 private key.
    #[error(
        "job signing key {path}: not a PKCS#8 PEM Ed25519 private key ({reason}); \
         create one with `openssl genpkey -algorithm ed25519 -out {path}`"
    )]
    Format {
        /// The file.
        path: PathBuf,
        /// The decoder's reason.
        reason: String,
    },
}

/// Deploy's job-signing key.
///
/// `Debug` shows only the public key's fingerprint, never the private key.
#[derive(Clone)]
pub struct JobSigner {
    key: SigningKey,
}

impl std::fmt::Debug for JobSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobSigner")
            .field("public_key", &self.fingerprint())
            .finish()
    }
}

impl JobSigner {
    /// A signer from a 32-byte Ed25519 secret key (the RFC 8032 seed).
    pub fn from_secret(secret: [u8; 32]) -> JobSigner {
        JobSigner {
            key: SigningKey::from_bytes(&secret),
        }
    }

    /// A new key from the operating system's random source.
    pub fn generate() -> JobSigner {
        JobSigner {
            key: SigningKey::generate(&mut rand_core::OsRng),
        }
    }

    /// Parses a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    ///
    /// # Errors
    /// [`KeyError::Format`] (naming `path`, for the message) when `pem` is
    /// not an Ed25519 PKCS#8 PEM key.
    pub fn from_pem(pem: &str, path: &Path) -> Result<JobSigner, KeyError> {
        SigningKey::from_pkcs8_pem(pem)
            .map(|key| JobSigner { key })
            .map_err(|e| KeyError::Format {
                path: path.to_owned(),
                reason: e.to_string(),
            })
    }

    /// Reads the private key file at `path`.
    ///
    /// # Errors
    /// [`KeyError::Io`] when the file cannot be read, [`KeyError::Format`]
    /// when it is not a PKCS#8 PEM Ed25519 private key.
    pub fn load(path: &Path) -> Result<JobSigner, KeyError> {
        let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.to_owned(),
            source,
        })?;
        JobSigner::from_pem(&pem, path)
    }

    /// Reads the private key at `path`, or, when there is no file there,
    /// generates one and writes it (PKCS#8 PEM, mode 0600, created
    /// exclusively so two processes never overwrite each other's key) and
    /// its public key beside it ([`public_key_path`]). Returns the signer and
    /// whether it was created.
    ///
    /// # Errors
    /// [`KeyError`] when the folder or files cannot be written, or an
    /// existing file is not a key.
    pub fn load_or_create(path: &Path) -> Result<(JobSigner, bool), KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        if path.exists() {
            let signer = JobSigner::load(path)?;
            signer.write_public_key(&public_key_path(path))?;
            return Ok((signer, false));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let signer = JobSigner::generate();
        let pem = signer
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| KeyError::Format {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(pem.as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
            }
            // Another process created it first: use its key.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let signer = JobSigner::load(path)?;
                return Ok((signer, false));
            }
            Err(e) => return Err(io(e)),
        }
        signer.write_public_key(&public_key_path(path))?;
        Ok((signer, true))
    }

    /// Writes the public key (SubjectPublicKeyInfo PEM) to `path` unless the
    /// file already holds exactly that.
    ///
    /// # Errors
    /// [`KeyError::Io`] when it cannot be written.
    pub fn write_public_key(&self, path: &Path) -> Result<(), KeyError> {
        let pem = self.public_key_pem();
        if std::fs::read_to_string(path).is_ok_and(|old| old == pem) {
            return Ok(());
        }
        std::fs::write(path, pem).map_err(|source| KeyError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// The public key agents verify with.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The public key as SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn public_key_pem(&self) -> String {
        // Encoding 32 bytes into a fixed DER structure cannot fail.
        self.verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// A short name of the key for logs and messages: `ed25519:` and the
    /// first 16 hex digits of the raw public key.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.verifying_key())
    }

    /// Signs `job`: sets [`AgentJob::signature`] to the hex Ed25519
    /// signature of [`AgentJob::signing_bytes`] and [`AgentJob::key_id`] to
    /// this key's [`JobSigner::fingerprint`] (both replaced when present).
    pub fn sign(&self, job: &mut AgentJob) {
        let signature = self.key.sign(&job.signing_bytes());
        job.signature = Some(hex::encode(signature.to_bytes()));
        job.key_id = Some(self.fingerprint());
    }

    /// Signs every agent job among `outputs`; other outputs are unchanged.
    pub fn sign_outputs(&self, outputs: &mut [Output]) {
        for o in outputs {
            if let Payload::AgentJob(job) = &mut o.payload {
                self.sign(job);
            }
        }
    }
}

/// Where [`JobSigner::load_or_create`] writes the public key of the private
/// key at `path`: the same folder, `<stem>.pub.pem` (`job-signing.pem` →
/// `job-signing.pub.pem`).
pub fn public_key_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "job-signing".into());
    path.with_file_name(format!("{stem}.pub.pem"))
}

/// `ed25519:` and the first 16 hex digits of the raw public key
/// ([`events::signing_key_fingerprint`], as the agents print it).
pub fn fingerprint(key: &VerifyingKey) -> String {
    events::signing_key_fingerprint(key.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Verifier as _;
    use ed25519_dalek::pkcs8::DecodePublicKey;
    use events::{JobAction, Remediation};
    use uuid::Uuid;

    fn job() -> AgentJob {
        AgentJob {
            job_id: Uuid::from_u128(1),
            bundle_id: Uuid::from_u128(2),
            ring: "prod".into(),
            wave: 1,
            host: "web-01".into(),
            action: JobAction::Apply,
            remediations: vec![Remediation::Package {
                name: "openssl".into(),
                fixed_version: "3.0.13-1".into(),
            }],
            issued_at: "2026-12-01T01:00:00Z".parse().unwrap(),
            expires_at: "2026-12-01T01:30:00Z".parse().unwrap(),
            signature: None,
            key_id: None,
        }
    }

    fn from_hex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    fn to_hex(bytes: &[u8]) -> String {
        hex::encode(bytes)
    }

    #[test]
    fn a_signed_job_verifies_with_the_public_key_and_only_as_signed() {
        let signer = JobSigner::from_secret([7; 32]);
        let mut j = job();
        signer.sign(&mut j);
        let sig = j.signature.clone().unwrap();
        assert_eq!(sig.len(), 128);
        // The job names the key that signed it, as agents print keys.
        assert_eq!(j.key_id.as_deref(), Some(signer.fingerprint().as_str()));
        let bytes: [u8; 64] = from_hex(&sig).try_into().unwrap();
        let sig = ed25519_dalek::Signature::from_bytes(&bytes);
        let key = signer.verifying_key();
        assert!(key.verify(&j.signing_bytes(), &sig).is_ok());
        // Deterministic: signing again gives the same signature.
        let mut again = job();
        signer.sign(&mut again);
        assert_eq!(again.signature, j.signature);
        // Any change to the job breaks it.
        let mut moved = j.clone();
        moved.host = "web-02".into();
        assert!(key.verify(&moved.signing_bytes(), &sig).is_err());
        // Another key's signature differs.
        let mut other = job();
        JobSigner::from_secret([8; 32]).sign(&mut other);
        assert_ne!(other.signature, j.signature);
    }

    #[test]
    fn rfc8032_test_vector_1() {
        // RFC 8032 §7.1, TEST 1: the empty message.
        let secret: [u8; 32] =
            from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .try_into()
                .unwrap();
        let signer = JobSigner::from_secret(secret);
        assert_eq!(
            to_hex(signer.verifying_key().as_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            to_hex(&signer.key.sign(b"").to_bytes()),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        assert_eq!(signer.fingerprint(), "ed25519:d75a980182b10ab7");
    }

    #[test]
    fn load_or_create_writes_a_pair_once_and_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join(DEFAULT_KEY_FILE);
        let (first, created) = JobSigner::load_or_create(&path).unwrap();
        assert!(created);
        let pem = std::fs::read_to_string(&path).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let public = std::fs::read_to_string(dir.path().join("keys/job-signing.pub.pem")).unwrap();
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
        assert_eq!(
            VerifyingKey::from_public_key_pem(&public).unwrap(),
            first.verifying_key()
        );
        let (second, created) = JobSigner::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(second.verifying_key(), first.verifying_key());
    }

    #[test]
    fn openssl_pem_keys_load_and_bad_files_say_why() {
        // `openssl genpkey -algorithm ed25519` output for the RFC 8032 TEST 1
        // secret (PKCS#8 v1, RFC 8410 §10.3 layout).
        let pem = "-----BEGIN PRIVATE KEY-----\n\
                   MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
                   -----END PRIVATE KEY-----\n";
        let signer = JobSigner::from_pem(pem, Path::new("k.pem")).unwrap();
        assert_eq!(signer.fingerprint(), "ed25519:d75a980182b10ab7");
        let err = JobSigner::from_pem("not a key", Path::new("k.pem"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not a PKCS#8 PEM Ed25519 private key"),
            "{err}"
        );
        assert!(err.contains("openssl genpkey -algorithm ed25519"), "{err}");
        let err = JobSigner::load(Path::new("/nonexistent/k.pem"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("job signing key /nonexistent/k.pem"),
            "{err}"
        );
    }

    #[test]
    fn only_agent_jobs_are_signed_among_outputs() {
        let signer = JobSigner::from_secret([7; 32]);
        let mut outputs = vec![
            Output::new(Uuid::from_u128(2), "prod/1/job/web-01".into(), job()),
            Output::new(
                Uuid::from_u128(2),
                "prod/1/rollback-requested".into(),
                events::RollbackRequested {
                    bundle_id: Uuid::from_u128(2),
                    ring: "prod".into(),
                    wave: 1,
                    hosts: vec![],
                    reason: "x".into(),
                },
            ),
        ];
        let before = outputs[1].clone();
        signer.sign_outputs(&mut outputs);
        match &outputs[0].payload {
            Payload::AgentJob(j) => assert!(j.signature.is_some()),
            other => panic!("{other:?}"),
        }
        assert_eq!(outputs[1], before);
    }
}
