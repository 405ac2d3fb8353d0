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
//! **Key rotation.** An agent may trust several keys (`--verify-key` given
//! more than once, or a list in `[[agents]] verify_key`): during a rotation
//! it takes jobs signed with the old key and with the new one. Deploy names
//! the key that signed a job in [`AgentJob::key_id`]; the agent verifies
//! with that key and refuses a job naming a key it does not trust, saying
//! which keys it trusts. A job without `key_id` (from an older deploy) is
//! tried with each trusted key.
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
    /// No key file was given.
    #[error("no job verification key given")]
    None,
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
        /// The fingerprints of the keys the agent trusts, comma-separated.
        key: String,
    },
    /// The job names a signing key the agent does not trust.
    #[error(
        "job is signed with key {key_id}, which this agent does not trust (it trusts {trusted}); \
         add deploy's new public key with another --verify-key during a key rotation"
    )]
    UntrustedKey {
        /// The key the job names ([`AgentJob::key_id`]).
        key_id: String,
        /// The fingerprints of the keys the agent trusts, comma-separated.
        trusted: String,
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
        /// The fingerprint of the key tried (the one the job names), or of
        /// every trusted key, comma-separated, when the job names none.
        key: String,
    },
}

/// The public keys the agent verifies jobs with: one, or several during a
/// key rotation (never none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobVerifier {
    keys: Vec<VerifyingKey>,
}

impl JobVerifier {
    /// A verifier for `key` (deploy's public key).
    pub fn new(key: VerifyingKey) -> JobVerifier {
        JobVerifier { keys: vec![key] }
    }

    /// A verifier that also trusts `key` (another deploy key, during a
    /// rotation); a key already trusted is not added twice.
    pub fn and(mut self, key: VerifyingKey) -> JobVerifier {
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
        self
    }

    /// Reads every public key file of `paths` (see [`JobVerifier::load`]);
    /// the agent trusts them all.
    ///
    /// # Errors
    /// [`KeyError::None`] when `paths` is empty; the first file's
    /// [`KeyError`] that cannot be used.
    pub fn load_all(paths: &[PathBuf]) -> Result<JobVerifier, KeyError> {
        let (first, rest) = paths.split_first().ok_or(KeyError::None)?;
        let mut verifier = JobVerifier::load(first)?;
        for path in rest {
            for key in JobVerifier::load(path)?.keys {
                verifier = verifier.and(key);
            }
        }
        Ok(verifier)
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

    /// The trusted keys' fingerprints (`ed25519:` and the first 16 hex
    /// digits of the raw public key, as deploy logs its key),
    /// comma-separated, in the order given.
    pub fn fingerprint(&self) -> String {
        self.keys
            .iter()
            .map(|k| events::signing_key_fingerprint(k.as_bytes()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Checks `job.signature` against [`AgentJob::signing_bytes`], with the
    /// key [`AgentJob::key_id`] names, or with each trusted key when it
    /// names none.
    ///
    /// # Errors
    /// [`SignatureError::Missing`] without a signature,
    /// [`SignatureError::Malformed`] when it is not 128 hex digits,
    /// [`SignatureError::UntrustedKey`] when it names a key not trusted,
    /// [`SignatureError::Mismatch`] when it does not verify.
    pub fn verify(&self, job: &AgentJob) -> Result<(), SignatureError> {
        let Some(text) = job.signature.as_deref() else {
            return Err(SignatureError::Missing {
                key: self.fingerprint(),
            });
        };
        let bytes = parse_hex_64(text).map_err(|reason| SignatureError::Malformed { reason })?;
        let signature = Signature::from_bytes(&bytes);
        let message = job.signing_bytes();
        let named = match job.key_id.as_deref() {
            Some(id) => {
                let key = self
                    .keys
                    .iter()
                    .find(|k| events::signing_key_fingerprint(k.as_bytes()) == id)
                    .ok_or_else(|| SignatureError::UntrustedKey {
                        key_id: id.to_owned(),
                        trusted: self.fingerprint(),
                    })?;
                Some((id, key))
            }
            None => None,
        };
        let verifies = |k: &VerifyingKey| k.verify_strict(&message, &signature).is_ok();
        match named {
            Some((_, key)) if verifies(key) => Ok(()),
            Some((id, _)) => Err(SignatureError::Mismatch { key: id.to_owned() }),
            None if self.keys.iter().any(verifies) => Ok(()),
            None => Err(SignatureError::Mismatch {
                key: self.fingerprint(),
            }),
        }
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
            key_id: None,
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

    fn key(secret: [u8; 32]) -> VerifyingKey {
        SigningKey::from_bytes(&secret).verifying_key()
    }

    /// Signs `job` as deploy does: the signature and the key's id.
    fn sign_named(job: &mut AgentJob, secret: [u8; 32]) {
        sign(job, secret);
        job.key_id = Some(events::signing_key_fingerprint(key(secret).as_bytes()));
    }

    #[test]
    fn during_a_rotation_both_keys_verify_and_a_named_key_must_be_trusted() {
        let rotating = JobVerifier::new(key([1; 32]))
            .and(key([2; 32]))
            .and(key([1; 32]));
        let (old_id, new_id, third_id) = (
            events::signing_key_fingerprint(key([1; 32]).as_bytes()),
            events::signing_key_fingerprint(key([2; 32]).as_bytes()),
            events::signing_key_fingerprint(key([3; 32]).as_bytes()),
        );
        // A key given twice is trusted once.
        assert_eq!(rotating.fingerprint(), format!("{old_id}, {new_id}"));
        let verify = |j: &AgentJob| rotating.verify(j).map_err(|e| e.to_string());

        // Named or not (an older deploy), a job signed with either key verifies.
        for secret in [[1; 32], [2; 32]] {
            let mut named = job();
            sign_named(&mut named, secret);
            assert_eq!(verify(&named), Ok(()));
            let mut unnamed = job();
            sign(&mut unnamed, secret);
            assert_eq!(verify(&unnamed), Ok(()));
        }

        // A key the agent does not trust is named in the refusal, with the
        // keys it does trust.
        let mut third = job();
        sign_named(&mut third, [3; 32]);
        assert_eq!(
            rotating.verify(&third),
            Err(SignatureError::UntrustedKey {
                key_id: third_id,
                trusted: format!("{old_id}, {new_id}"),
            })
        );
        let mut unnamed_third = job();
        sign(&mut unnamed_third, [3; 32]);
        assert_eq!(
            rotating.verify(&unnamed_third),
            Err(SignatureError::Mismatch {
                key: format!("{old_id}, {new_id}"),
            })
        );

        // The id only selects the key: naming the other trusted key, or
        // changing the job, does not verify.
        let mut misnamed = job();
        sign(&mut misnamed, [1; 32]);
        misnamed.key_id = Some(new_id.clone());
        assert_eq!(
            rotating.verify(&misnamed),
            Err(SignatureError::Mismatch { key: new_id })
        );
        let mut moved = job();
        sign_named(&mut moved, [2; 32]);
        moved.host = "web-02".into();
        assert!(verify(&moved).unwrap_err().contains("does not verify"));

        // After the rotation the old key is gone: its jobs are refused.
        let mut old = job();
        sign_named(&mut old, [1; 32]);
        let err = JobVerifier::new(key([2; 32])).verify(&old).unwrap_err();
        assert!(matches!(err, SignatureError::UntrustedKey { .. }), "{err}");
    }

    #[test]
    fn several_key_files_load_into_one_verifier() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, secret: [u8; 32]| {
            use ed25519_dalek::pkcs8::EncodePublicKey as _;
            let path = dir.path().join(name);
            let pem = key(secret)
                .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
                .unwrap();
            std::fs::write(&path, pem).unwrap();
            path
        };
        let (a, b) = (write("old.pub.pem", [1; 32]), write("new.pub.pem", [2; 32]));
        let v = JobVerifier::load_all(&[a.clone(), b]).unwrap();
        assert_eq!(v, JobVerifier::new(key([1; 32])).and(key([2; 32])));
        assert!(matches!(JobVerifier::load_all(&[]), Err(KeyError::None)));
        let err = JobVerifier::load_all(&[a, dir.path().join("missing.pem")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.pem"), "{err}");
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
