//! Verifying deploy's signature on a job (issue 5, item 8).
//!
//! Deploy signs every `AgentJob` with its Ed25519 key (RFC 8032) over
//! [`AgentJob::signing_bytes`] (the context `patchflow/agent-job/v1\n` and
//! the job's compact JSON without its `signature` field) and puts the 64-byte
//! signature in [`AgentJob::signature`] as 128 lowercase hex digits. The
//! agent holds deploy's public key (`--verify-key FILE`: SubjectPublicKeyInfo
//! PEM, `-----BEGIN PUBLIC KEY-----`, as `openssl pkey -pubout` writes it)
//! and refuses, before anything else, a job whose signature is missing,
//! malformed or made with another key. The refusal is a
//! `patch.agent.result` with status `refused`, one step
//! [`SIGNATURE_STEP`] and the reason; nothing on the host changes and the
//! job is not recorded in the history.
//!
//! Verification uses `verify_strict` (no small-order keys, canonical
//! signatures only). The signature is checked over the job as decoded, so
//! what is verified is exactly what the agent would act on.

use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::DecodePublicKey as _;
use ed25519_dalek::{Signature, VerifyingKey};
use events::AgentJob;

/// The name of the step a signature refusal reports.
pub const SIGNATURE_STEP: &str = "verify-signature";

/// Why a public key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file cannot be read.
    #[error("job verification key {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not an Ed25519 public key in SubjectPublicKeyInfo PEM.
    #[error(
        "job verification key {path}: not a PEM Ed25519 public key ({reason}); deploy writes \
         its public key beside the signing key as job-signing.pub.pem, or derive it with \
         `openssl pkey -in job-signing.pem -pubout -out job-signing.pub.pem`"
    )]
    Format {
        /// The file.
        path: PathBuf,
        /// The decoder's reason.
        reason: String,
    },
    /// The file is a private key: deploy's signing key, which must stay
    /// with deploy.
    #[error(
        "job verification key {path} is a private key (deploy's signing key, which must not \
         leave deploy): give the agent the public key, job-signing.pub.pem beside it, or \
         derive it with `openssl pkey -in {path} -pubout -out job-signing.pub.pem`"
    )]
    PrivateKey {
        /// The file.
        path: PathBuf,
    },
}

/// Why a job's signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The job carries no signature.
    #[error("job has no signature; this agent takes only jobs signed by deploy's key {key}")]
    Missing {
        /// The fingerprint of the agent's key.
        key: String,
    },
    /// The signature field is not 128 hex digits.
    #[error("job signature is malformed: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: String,
    },
    /// The signature does not verify with the agent's key: the job was
    /// signed with another key or changed after signing.
    #[error(
        "job signature does not verify with this agent's key {key} \
         (signed with another key, or changed after signing)"
    )]
    Mismatch {
        /// The fingerprint of the agent's key.
        key: String,
    },
}

/// The public key the agent verifies jobs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobVerifier {
    key: VerifyingKey,
}

impl JobVerifier {
    /// A verifier for `key` (deploy's public key).
    pub fn new(key: VerifyingKey) -> JobVerifier {
        JobVerifier { key }
    }

    /// Parses a SubjectPublicKeyInfo PEM Ed25519 public key
    /// (`-----BEGIN PUBLIC KEY-----`); `path` names it in errors.
    ///
    /// # Errors
    /// [`KeyError::PrivateKey`] when `pem` holds a private key,
    /// [`KeyError::Format`] when it is not a public key.
    pub fn from_pem(pem: &str, path: &Path) -> Result<JobVerifier, KeyError> {
        if pem.contains("PRIVATE KEY-----") {
            return Err(KeyError::PrivateKey {
                path: path.to_owned(),
            });
        }
        VerifyingKey::from_public_key_pem(pem)
            .map(JobVerifier::new)
            .map_err(|e| KeyError::Format {
                path: path.to_owned(),
                reason: e.to_string(),
            })
    }

    /// Reads the public key file at `path`.
    ///
    /// # Errors
    /// [`KeyError::Io`] when it cannot be read, [`KeyError::PrivateKey`]
    /// when it is a private key, [`KeyError::Format`] when it is not a PEM
    /// Ed25519 public key.
    pub fn load(path: &Path) -> Result<JobVerifier, KeyError> {
        let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.to_owned(),
            source,
        })?;
        JobVerifier::from_pem(&pem, path)
    }

    /// `ed25519:` and the first 16 hex digits of the raw public key (the
    /// same as deploy logs for its key).
    pub fn fingerprint(&self) -> String {
        events::signing_key_fingerprint(self.key.as_bytes())
    }

    /// Checks `job.signature` against [`AgentJob::signing_bytes`].
    ///
    /// # Errors
    /// [`SignatureError::Missing`] without a signature,
    /// [`SignatureError::Malformed`] when it is not 128 hex digits,
    /// [`SignatureError::Mismatch`] when it does not verify.
    pub fn verify(&self, job: &AgentJob) -> Result<(), SignatureError> {
        let Some(text) = job.signature.as_deref() else {
            return Err(SignatureError::Missing {
                key: self.fingerprint(),
            });
        };
        let bytes = parse_hex_64(text).map_err(|reason| SignatureError::Malformed { reason })?;
        let signature = Signature::from_bytes(&bytes);
        self.key
            .verify_strict(&job.signing_bytes(), &signature)
            .map_err(|_| SignatureError::Mismatch {
                key: self.fingerprint(),
            })
    }

    /// The refusal reason for `job` failing `err`: `job <id> refused: <err>`.
    pub fn refusal_reason(job: &AgentJob, err: &SignatureError) -> String {
        format!("job {} refused: {err}", job.job_id)
    }
}

fn parse_hex_64(text: &str) -> Result<[u8; 64], String> {
    if text.len() != 128 {
        return Err(format!(
            "{} characters, an Ed25519 signature is 128 hex digits",
            text.len()
        ));
    }
    let mut out = [0u8; 64];
    for (i, slot) in out.iter_mut().enumerate() {
        let pair = text
            .get(2 * i..2 * i + 2)
            .ok_or_else(|| "not ASCII hex".to_owned())?;
        *slot = u8::from_str_radix(pair, 16)
            .map_err(|_| format!("{pair:?} at offset {} is not hex", 2 * i))?;
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ed25519_dalek::{Signer as _, SigningKey};
    use events::{JobAction, Remediation};
    use uuid::Uuid;

    /// Signs `job` with the key from `secret`, as deploy does.
    pub(crate) fn sign(job: &mut AgentJob, secret: [u8; 32]) {
        let key = SigningKey::from_bytes(&secret);
        job.signature = Some(hex::encode(key.sign(&job.signing_bytes()).to_bytes()));
    }

    /// The verifier of the key from `secret`.
    pub(crate) fn verifier(secret: [u8; 32]) -> JobVerifier {
        JobVerifier::new(SigningKey::from_bytes(&secret).verifying_key())
    }

    fn job() -> AgentJob {
        AgentJob {
            job_id: Uuid::from_u128(9),
            bundle_id: Uuid::from_u128(2),
            ring: "dev".into(),
            wave: 0,
            host: "web-01".into(),
            action: JobAction::Apply,
            remediations: vec![Remediation::Advisory { id: "DSA-1".into() }],
            issued_at: "2026-12-01T01:00:00Z".parse().unwrap(),
            expires_at: "2026-12-01T01:30:00Z".parse().unwrap(),
            signature: None,
        }
    }

    fn check(job: &AgentJob, want: Result<(), &str>) {
        let got = verifier([1; 32]).verify(job).map_err(|e| e.to_string());
        match (&got, want) {
            (Ok(()), Ok(())) => {}
            (Err(g), Err(w)) => assert!(g.contains(w), "{g:?} does not contain {w:?}"),
            _ => panic!("got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn only_a_job_signed_with_the_configured_key_verifies() {
        let mut good = job();
        sign(&mut good, [1; 32]);
        check(&good, Ok(()));

        check(&job(), Err("job has no signature"));

        let mut other_key = job();
        sign(&mut other_key, [2; 32]);
        check(
            &other_key,
            Err("does not verify with this agent's key ed25519:"),
        );

        // Changed after signing: another host, another package, later expiry.
        let mut moved = good.clone();
        moved.host = "web-02".into();
        check(&moved, Err("does not verify"));
        let mut swapped = good.clone();
        swapped.remediations = vec![Remediation::Package {
            name: "openssl".into(),
            fixed_version: "0.9".into(),
        }];
        check(&swapped, Err("does not verify"));
        let mut later = good.clone();
        later.expires_at = "2027-01-01T00:00:00Z".parse().unwrap();
        check(&later, Err("does not verify"));

        let mut short = good.clone();
        short.signature = Some("abcd".into());
        check(&short, Err("malformed: 4 characters"));
        let mut not_hex = good.clone();
        not_hex.signature = Some("zz".repeat(64));
        check(&not_hex, Err("malformed: \"zz\" at offset 0 is not hex"));
        let mut multibyte = good.clone();
        multibyte.signature = Some(format!("é{}", "0".repeat(126)));
        check(&multibyte, Err("malformed"));
    }

    #[test]
    fn public_keys_load_from_openssl_pem() {
        // `openssl pkey -pubout` of the RFC 8032 §7.1 TEST 1 key.
        let pem = "-----BEGIN PUBLIC KEY-----\n\
                   MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n\
                   -----END PUBLIC KEY-----\n";
        let v = JobVerifier::from_pem(pem, Path::new("k.pub.pem")).unwrap();
        assert_eq!(v.fingerprint(), "ed25519:d75a980182b10ab7");
        // Deploy's signing key given by mistake: named as such, and the
        // hint never writes over the file it was given.
        let private =
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
        let err = JobVerifier::from_pem(private, Path::new("dd/job-signing.pem"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("dd/job-signing.pem is a private key"), "{err}");
        assert!(!err.contains("-out dd/job-signing.pem"), "{err}");
        let err = JobVerifier::from_pem("-----BEGIN CERTIFICATE-----", Path::new("k.pub.pem"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a PEM Ed25519 public key"), "{err}");
        assert!(!err.contains("-out k.pub.pem"), "{err}");
        let err = JobVerifier::load(Path::new("/nonexistent/k.pub.pem"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("job verification key /nonexistent/k.pub.pem"),
            "{err}"
        );
    }
}
