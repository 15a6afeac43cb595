//! `stella verify-evidence`: offline checks of a scan's signed evidence.
//!
//! The checks, in order, each failing with a message that names it:
//! 1. the envelope is a DSSE envelope ([`signing::dsse::Envelope::from_json`]);
//! 2. its signature verifies with the appliance key given by `--pub`, over the in-toto
//!    payload type ([`signing::dsse::verify_typed`] — the one DSSE verifier of the product);
//! 3. the verified payload (never the envelope's copy) is an in-toto Statement v1 with
//!    the scan-verdict predicate;
//! 4. with `--sbom`, the file's sha256 is one of the statement's subjects.
//!
//! With `--bundle FILE.tar.zst --vendor-pub vendor.pub` (an evidence bundle from the
//! appliance, format in [`bundles::evidence`]), [`verify_bundle`] goes on:
//! 5. the envelope is the bundle's `evidence.dsse.json` (checks 1-3 with `--pub`, or with
//!    the bundle's own `appliance.pub` when no key is pinned), and the bundle's `sbom.json`
//!    is a subject (check 4);
//! 6. the sha256 of the canonical `findings.json` is the statement's `findings_digest`
//!    (the engine's rule, shared through [`bundles::evidence::findings_digest_of_json`]);
//! 7. the sha256 of `policy.yaml` is the statement's policy digest;
//! 8. `kit/manifest.json` carries enough valid signatures of the vendor key
//!    ([`bundles::Manifest::parse_and_verify`]), its sha256 is the statement's kit
//!    manifest digest, and its kit id and sequence are the statement's.

use crate::cli::VerifyArgs;
use crate::error::{CliError, EXIT_PASS};
use crate::output;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The appliance's scan-verdict predicate type.
pub const PREDICATE_TYPE: &str = "https://stella-ops.org/attestations/scan-verdict/v1";

#[derive(Debug, Deserialize)]
struct Subject {
    #[serde(default)]
    name: String,
    digest: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Statement {
    #[serde(rename = "_type")]
    type_: String,
    subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    #[serde(default)]
    predicate: serde_json::Value,
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Key ids that signed.
    pub keys: Vec<String>,
    /// Subjects as `name sha256:hex`.
    pub subjects: Vec<String>,
    /// The subject the `--sbom` matched, if given.
    pub sbom_subject: Option<String>,
    /// `predicate.verdict`.
    pub verdict: Option<String>,
    /// `predicate.findings_digest`.
    pub findings_digest: Option<String>,
    /// `predicate.kit.id` and `.sequence`.
    pub kit: Option<(String, u64)>,
    /// `predicate.signed_at`.
    pub signed_at: Option<String>,
    /// `predicate.policy.sha256`.
    pub policy_sha256: Option<String>,
    /// `predicate.kit.manifest_sha256`.
    pub kit_manifest_sha256: Option<String>,
}

/// Verifies `envelope` (JSON bytes) with `key`, and the SBOM bytes when given.
///
/// # Errors
/// [`CliError::Verification`] naming the failed check.
pub fn verify_envelope(
    envelope: &[u8],
    key: &signing::PublicKey,
    sbom: Option<&[u8]>,
) -> Result<Verified, CliError> {
    use signing::dsse;
    // 1. DSSE shape.
    let env = dsse::Envelope::from_json(envelope)
        .map_err(|e| CliError::Verification(format!("not a DSSE envelope: {e}")))?;
    // 2. Signature by the appliance key, over the in-toto payload type.
    let trust = signing::TrustRoot::single(key.clone());
    let payload = dsse::verify_typed(&env, &trust, dsse::IN_TOTO_PAYLOAD_TYPE).map_err(|e| {
        CliError::Verification(format!(
            "signature check with appliance key {} failed: {e}",
            key.id()
        ))
    })?;
    // 3. The verified bytes are our statement.
    let st: Statement = serde_json::from_slice(&payload.body).map_err(|e| {
        CliError::Verification(format!(
            "the signed payload is not an in-toto Statement: {e}"
        ))
    })?;
    if st.type_ != STATEMENT_TYPE {
        return Err(CliError::Verification(format!(
            "statement _type is {:?}, expected {STATEMENT_TYPE:?}",
            st.type_
        )));
    }
    if st.predicate_type != PREDICATE_TYPE {
        return Err(CliError::Verification(format!(
            "predicateType is {:?}, expected {PREDICATE_TYPE:?} (not a scan verdict)",
            st.predicate_type
        )));
    }
    if st.subject.is_empty() {
        return Err(CliError::Verification(
            "the statement has no subject".into(),
        ));
    }
    let subjects: Vec<String> = st
        .subject
        .iter()
        .map(|s| {
            let d = s
                .digest
                .get("sha256")
                .map(|h| format!("sha256:{h}"))
                .unwrap_or_else(|| "(no sha256)".into());
            format!("{} {d}", s.name)
        })
        .collect();
    // 4. The SBOM is a subject (subjects are matched by digest only, per in-toto).
    let sbom_subject = match sbom {
        None => None,
        Some(bytes) => {
            let hex = hex::encode(Sha256::digest(bytes));
            let hit = st.subject.iter().find(|s| {
                s.digest
                    .get("sha256")
                    .is_some_and(|d| d.eq_ignore_ascii_case(&hex))
            });
            match hit {
                Some(s) => Some(s.name.clone()),
                None => {
                    return Err(CliError::Verification(format!(
                        "the SBOM's sha256 {hex} is not a subject of the statement (subjects: {})",
                        subjects.join(", ")
                    )));
                }
            }
        }
    };
    let p = &st.predicate;
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    Ok(Verified {
        keys: payload.keys.iter().map(ToString::to_string).collect(),
        subjects,
        sbom_subject,
        verdict: text(&p["verdict"]),
        findings_digest: text(&p["findings_digest"]),
        kit: text(&p["kit"]["id"]).zip(p["kit"]["sequence"].as_u64()),
        signed_at: text(&p["signed_at"]),
        policy_sha256: text(&p["policy"]["sha256"]),
        kit_manifest_sha256: text(&p["kit"]["manifest_sha256"]),
    })
}

/// What [`verify_bundle`] established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleVerified {
    /// The envelope checks (signature, statement, SBOM subject).
    pub envelope: Verified,
    /// Whether the appliance key came from the bundle rather than from `--pub`.
    pub key_from_bundle: bool,
    /// Vendor key ids that signed the kit manifest.
    pub vendor_keys: Vec<String>,
    /// The kit id and sequence (statement = manifest).
    pub kit: (String, u64),
}

fn bundle_entry<'a>(
    entries: &'a std::collections::BTreeMap<String, Vec<u8>>,
    name: &str,
) -> Result<&'a [u8], CliError> {
    entries
        .get(name)
        .map(Vec::as_slice)
        .ok_or_else(|| CliError::Verification(format!("the bundle has no {name}")))
}

/// Verifies an evidence bundle (the `.tar.zst` bytes): checks 1-8 of the module doc.
/// `key`: the pinned appliance key (`--pub`), else the bundle's `appliance.pub`.
/// `envelope`: an envelope given on the command line, which must be the bundle's.
///
/// # Errors
/// [`CliError::Verification`] naming the first check that does not match.
pub fn verify_bundle(
    bundle: &[u8],
    key: Option<&signing::PublicKey>,
    vendor: &signing::TrustRoot,
    envelope: Option<&[u8]>,
) -> Result<BundleVerified, CliError> {
    use bundles::evidence as fmt;
    let entries = fmt::read_bundle(bundle, &fmt::BundleLimits::default())
        .map_err(|e| CliError::Verification(format!("unreadable bundle: {e}")))?;
    let env = bundle_entry(&entries, fmt::ENVELOPE)?;
    if let Some(given) = envelope
        && given != env
    {
        return Err(CliError::Verification(format!(
            "the envelope given differs from the bundle's {}",
            fmt::ENVELOPE
        )));
    }
    // 5. Signature (pinned key, else the bundle's), statement, SBOM subject.
    let bundled_key;
    let (key, key_from_bundle) = match key {
        Some(k) => (k, false),
        None => {
            let text =
                String::from_utf8_lossy(bundle_entry(&entries, fmt::APPLIANCE_PUB)?).into_owned();
            bundled_key = signing::PublicKeyBox::from_text(text)
                .parse()
                .map_err(|e| {
                    CliError::Verification(format!(
                        "the bundle's {} is not a public key: {e}",
                        fmt::APPLIANCE_PUB
                    ))
                })?;
            (&bundled_key, true)
        }
    };
    let sbom = bundle_entry(&entries, fmt::SBOM)?;
    let v = verify_envelope(env, key, Some(sbom)).map_err(|e| match e {
        CliError::Verification(m) if m.starts_with("the SBOM") => {
            CliError::Verification(format!("{}: {m}", fmt::SBOM))
        }
        other => other,
    })?;
    // 6. Findings digest, by the engine's canonical JSON rule.
    let recorded = v.findings_digest.clone().unwrap_or_default();
    let findings = fmt::findings_digest_of_json(bundle_entry(&entries, fmt::FINDINGS)?)
        .map_err(|e| CliError::Verification(format!("{}: {e}", fmt::FINDINGS)))?;
    if findings != recorded {
        return Err(CliError::Verification(format!(
            "{}: digest {findings} does not match the statement's findings_digest {recorded}",
            fmt::FINDINGS
        )));
    }
    // 7. Policy digest.
    let policy = hex::encode(Sha256::digest(bundle_entry(&entries, fmt::POLICY)?));
    let recorded = v.policy_sha256.clone().unwrap_or_default();
    if !policy.eq_ignore_ascii_case(&recorded) {
        return Err(CliError::Verification(format!(
            "{}: sha256 {policy} does not match the statement's policy digest {recorded}",
            fmt::POLICY
        )));
    }
    // 8. Kit manifest: vendor signatures, digest, id and sequence.
    let manifest_bytes = bundle_entry(&entries, fmt::KIT_MANIFEST)?;
    let m =
        bundles::Manifest::parse_and_verify(manifest_bytes, vendor, &bundles::Limits::default())
            .map_err(|e| {
                CliError::Verification(format!(
                    "{}: vendor signature check failed: {e}",
                    fmt::KIT_MANIFEST
                ))
            })?;
    let digest = hex::encode(Sha256::digest(manifest_bytes));
    let recorded = v.kit_manifest_sha256.clone().unwrap_or_default();
    if !digest.eq_ignore_ascii_case(&recorded) {
        return Err(CliError::Verification(format!(
            "{}: sha256 {digest} does not match the statement's kit manifest digest {recorded}",
            fmt::KIT_MANIFEST
        )));
    }
    let kit = (m.kit_id.clone(), m.sequence);
    if v.kit.as_ref() != Some(&kit) {
        return Err(CliError::Verification(format!(
            "{}: kit {} sequence {} is not the statement's kit {}",
            fmt::KIT_MANIFEST,
            kit.0,
            kit.1,
            v.kit
                .as_ref()
                .map_or_else(|| "(none)".to_owned(), |(i, s)| format!("{i} sequence {s}"))
        )));
    }
    Ok(BundleVerified {
        vendor_keys: m.signed_by().iter().map(ToString::to_string).collect(),
        envelope: v,
        key_from_bundle,
        kit,
    })
}

fn read_key(what: &'static str, path: &std::path::Path) -> Result<signing::PublicKey, CliError> {
    signing::PublicKey::read(path).map_err(|e| CliError::BadInput {
        what,
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// `stella verify-evidence`.
///
/// # Errors
/// Unreadable inputs (exit 2), a failed check (exit 1).
pub fn verify_evidence(args: &VerifyArgs) -> Result<u8, CliError> {
    let envelope = match &args.envelope {
        Some(p) => Some(output::read_input(
            "evidence envelope",
            p,
            signing::dsse::MAX_ENVELOPE_BYTES as u64,
        )?),
        None => None,
    };
    let key = match &args.public_key {
        Some(p) => Some(read_key("appliance public key", p)?),
        None => None,
    };
    let clean = |s: &str| crate::format::table::fit(s, 200);
    let mut out = String::new();
    let v = match (&args.bundle, &args.vendor_pub) {
        (Some(bundle), Some(vendor)) => {
            let vendor_key = read_key("vendor public key", vendor)?;
            let bytes = output::read_input(
                "evidence bundle",
                bundle,
                bundles::evidence::BundleLimits::default().total_bytes,
            )?;
            let b = verify_bundle(
                &bytes,
                key.as_ref(),
                &signing::TrustRoot::single(vendor_key),
                envelope.as_deref(),
            )?;
            if b.key_from_bundle {
                let _ = writeln!(
                    out,
                    "!!  appliance key taken from the bundle itself: pass --pub to pin the key you trust"
                );
            }
            let _ = writeln!(
                out,
                "ok  kit manifest: signed by vendor key {}, kit {} (sequence {}) as the statement says",
                b.vendor_keys.join(", "),
                clean(&b.kit.0),
                b.kit.1
            );
            let _ = writeln!(
                out,
                "ok  findings: findings.json matches the findings digest"
            );
            let _ = writeln!(out, "ok  policy: policy.yaml matches the policy digest");
            b.envelope
        }
        (None, None) => {
            let (Some(envelope), Some(key)) = (envelope, key) else {
                return Err(CliError::Usage(
                    "verify-evidence needs ENVELOPE and --pub, or --bundle and --vendor-pub".into(),
                ));
            };
            let sbom = match &args.sbom {
                Some(p) => Some(output::read_input("SBOM", p, output::MAX_SBOM_BYTES)?),
                None => None,
            };
            verify_envelope(&envelope, &key, sbom.as_deref())?
        }
        _ => {
            return Err(CliError::Usage(
                "--bundle and --vendor-pub go together".into(),
            ));
        }
    };
    let _ = writeln!(out, "ok  signature: appliance key {}", v.keys.join(", "));
    let _ = writeln!(out, "ok  statement: in-toto Statement v1, {PREDICATE_TYPE}");
    for s in &v.subjects {
        let _ = writeln!(out, "    subject: {}", clean(s));
    }
    match &v.sbom_subject {
        Some(name) => {
            let _ = writeln!(out, "ok  sbom: matches subject {:?}", clean(name));
        }
        None => {
            let _ = writeln!(out, "--  sbom: not checked (pass --sbom FILE)");
        }
    }
    if let Some(verdict) = &v.verdict {
        let _ = writeln!(out, "verdict: {}", clean(verdict));
    }
    if let Some(d) = &v.findings_digest {
        let _ = writeln!(out, "findings: {}", clean(d));
    }
    if let Some((id, seq)) = &v.kit {
        let _ = writeln!(out, "kit: {} (sequence {seq})", clean(id));
    }
    if let Some(t) = &v.signed_at {
        let _ = writeln!(out, "signed at: {}", clean(t));
    }
    let mut so = std::io::stdout().lock();
    so.write_all(out.as_bytes())
        .and_then(|()| so.flush())
        .map_err(|source| CliError::Write {
            path: "<stdout>".into(),
            source,
        })?;
    Ok(EXIT_PASS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use signing::keys::{KeyId, KeyPair};

    fn statement(sbom: &[u8]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "_type": STATEMENT_TYPE,
            "subject": [{"name": "bom.json", "digest": {"sha256": hex::encode(Sha256::digest(sbom))}}],
            "predicateType": PREDICATE_TYPE,
            "predicate": {"verdict": "fail", "findings_digest": "sha256:00", "kit": {"id": "k", "sequence": 7}},
        }))
        .expect("json")
    }

    fn key(n: u8) -> KeyPair {
        KeyPair::from_seed(KeyId([n; 8]), &[n; 32])
    }

    fn envelope(body: &[u8], k: &KeyPair) -> Vec<u8> {
        signing::dsse::sign(signing::dsse::IN_TOTO_PAYLOAD_TYPE, body, &[k])
            .expect("sign")
            .to_json()
    }

    #[test]
    fn verifies_signature_statement_and_sbom() {
        let k = key(1);
        let env = envelope(&statement(b"{\"sbom\":1}"), &k);
        let v = verify_envelope(&env, &k.public(), Some(b"{\"sbom\":1}")).expect("verifies");
        assert_eq!(v.verdict.as_deref(), Some("fail"));
        assert_eq!(v.sbom_subject.as_deref(), Some("bom.json"));
        assert_eq!(v.kit, Some(("k".into(), 7)));
    }

    #[test]
    fn each_check_fails_on_its_own() {
        let k = key(1);
        let env = envelope(&statement(b"A"), &k);
        // Wrong key.
        let e = verify_envelope(&env, &key(2).public(), None).expect_err("wrong key");
        assert!(e.to_string().contains("signature check"), "{e}");
        assert_eq!(e.exit_code(), 1);
        // Another SBOM.
        let e = verify_envelope(&env, &k.public(), Some(b"B")).expect_err("other sbom");
        assert!(e.to_string().contains("is not a subject"), "{e}");
        // Tampered payload: swap in another statement, keep the signature.
        let mut v: serde_json::Value = serde_json::from_slice(&env).expect("json");
        let other = envelope(&statement(b"B"), &k);
        let other: serde_json::Value = serde_json::from_slice(&other).expect("json");
        v["payload"] = other["payload"].clone();
        let tampered = serde_json::to_vec(&v).expect("json");
        let e = verify_envelope(&tampered, &k.public(), None).expect_err("tampered payload");
        assert!(
            matches!(&e, CliError::Verification(m) if m.starts_with("signature check with appliance key")),
            "{e}"
        );
        // Signed, but not our predicate.
        let foreign = serde_json::to_vec(&serde_json::json!({"_type": STATEMENT_TYPE,
            "subject": [{"name": "x", "digest": {"sha256": "00"}}],
            "predicateType": "https://slsa.dev/provenance/v1", "predicate": {}}))
        .expect("json");
        let e = verify_envelope(&envelope(&foreign, &k), &k.public(), None).expect_err("foreign");
        assert!(e.to_string().contains("not a scan verdict"), "{e}");
        // Not an envelope at all.
        let e = verify_envelope(b"{}", &k.public(), None).expect_err("not an envelope");
        assert!(
            matches!(&e, CliError::Verification(m) if m.starts_with("not a DSSE envelope")),
            "{e}"
        );
        assert_eq!(e.exit_code(), 1);
    }

    mod bundle {
        use super::super::*;
        use super::key;
        use bundles::evidence as fmt;
        use bundles::manifest::{Producer, Summary};
        use std::collections::BTreeMap;

        const SBOM: &[u8] = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}"#;
        const FINDINGS: &[u8] =
            br#"[{"id":"GHSA-1","package":{"name":"a","version":"1"},"cvss":{"score":9.8}}]"#;
        const POLICY: &[u8] = b"fail_on: high\n";

        fn manifest(vendor: &signing::KeyPair, id: &str, seq: u64) -> Vec<u8> {
            let w = bundles::KitWriter::new(bundles::KitInfo {
                kit_id: id.into(),
                sequence: seq,
                created_at: bundles::Timestamp::parse("2026-11-20T00:00:00Z").expect("ts"),
                expires_at: bundles::Timestamp::parse("2026-12-20T00:00:00Z").expect("ts"),
                site: None,
                producer: Producer {
                    name: "test".into(),
                    version: "1".into(),
                },
                summary: Summary::default(),
            });
            let (m, _) = w.write(Vec::new(), &[vendor]).expect("kit");
            m.to_json_bytes().expect("manifest")
        }

        /// A bundle as the appliance writes it; `kit` overrides the statement's kit id.
        fn entries(
            app: &signing::KeyPair,
            manifest: &[u8],
            kit: (&str, u64),
        ) -> BTreeMap<String, Vec<u8>> {
            let findings_digest = fmt::findings_digest_of_json(FINDINGS).expect("findings digest");
            let statement = serde_json::json!({
                "_type": STATEMENT_TYPE,
                "subject": [{"name": "bom.json", "digest": {"sha256": hex::encode(Sha256::digest(SBOM))}}],
                "predicateType": PREDICATE_TYPE,
                "predicate": {
                    "verdict": "fail",
                    "findings_digest": findings_digest,
                    "policy": {"version": 1, "sha256": hex::encode(Sha256::digest(POLICY))},
                    "kit": {"id": kit.0, "sequence": kit.1,
                            "manifest_sha256": hex::encode(Sha256::digest(manifest))},
                },
            });
            let env = signing::dsse::sign(
                signing::dsse::IN_TOTO_PAYLOAD_TYPE,
                &serde_json::to_vec(&statement).expect("json"),
                &[app],
            )
            .expect("sign")
            .to_json();
            [
                (fmt::SBOM, SBOM.to_vec()),
                (fmt::FINDINGS, FINDINGS.to_vec()),
                (fmt::POLICY, POLICY.to_vec()),
                (fmt::ENVELOPE, env),
                (
                    fmt::APPLIANCE_PUB,
                    app.public().to_box().as_str().as_bytes().to_vec(),
                ),
                (fmt::KIT_MANIFEST, manifest.to_vec()),
                (fmt::AUDIT, Vec::new()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
        }

        fn pack(e: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
            fmt::write_bundle(Vec::new(), e, 1_790_000_000).expect("bundle")
        }

        fn check(
            e: &BTreeMap<String, Vec<u8>>,
            pinned: Option<&signing::KeyPair>,
            vendor: &signing::KeyPair,
        ) -> Result<BundleVerified, CliError> {
            let pinned = pinned.map(signing::KeyPair::public);
            verify_bundle(
                &pack(e),
                pinned.as_ref(),
                &signing::TrustRoot::single(vendor.public()),
                None,
            )
        }

        fn fails_with(r: Result<BundleVerified, CliError>, needle: &str) {
            let e = r.expect_err(needle);
            assert_eq!(e.exit_code(), 1, "{e}");
            assert!(e.to_string().contains(needle), "{e} (expected {needle:?})");
        }

        #[test]
        fn a_faithful_bundle_verifies_with_the_bundled_or_pinned_key() {
            let (app, vendor) = (key(4), key(7));
            let m = manifest(&vendor, "kit-9", 9);
            let e = entries(&app, &m, ("kit-9", 9));
            let v = check(&e, None, &vendor).expect("verifies");
            assert!(v.key_from_bundle);
            assert_eq!(v.kit, ("kit-9".to_owned(), 9));
            assert_eq!(v.vendor_keys, [vendor.id().to_string()]);
            assert_eq!(v.envelope.sbom_subject.as_deref(), Some("bom.json"));
            let v = check(&e, Some(&app), &vendor).expect("verifies pinned");
            assert!(!v.key_from_bundle);
            // An envelope given on the command line must be the bundle's.
            let other = entries(&app, &m, ("kit-9", 9));
            assert!(
                verify_bundle(
                    &pack(&e),
                    None,
                    &signing::TrustRoot::single(vendor.public()),
                    Some(&other[fmt::ENVELOPE][..]),
                )
                .is_ok(),
                "deterministic signing: the same statement gives the same envelope"
            );
            fails_with(
                verify_bundle(
                    &pack(&e),
                    None,
                    &signing::TrustRoot::single(vendor.public()),
                    Some(b"{}"),
                ),
                "differs from the bundle's evidence.dsse.json",
            );
        }

        #[test]
        fn each_tamper_is_named() {
            let (app, vendor) = (key(4), key(7));
            let m = manifest(&vendor, "kit-9", 9);
            let good = entries(&app, &m, ("kit-9", 9));

            // SBOM.
            let mut e = good.clone();
            e.insert(fmt::SBOM.into(), b"{\"bomFormat\":\"CycloneDX\"}".to_vec());
            fails_with(check(&e, None, &vendor), "sbom.json: the SBOM's sha256");
            // Findings: one severity score edited.
            let mut e = good.clone();
            let edited = String::from_utf8(FINDINGS.to_vec())
                .expect("utf8")
                .replace("9.8", "5.0");
            e.insert(fmt::FINDINGS.into(), edited.into_bytes());
            fails_with(check(&e, None, &vendor), "findings.json: digest");
            // A re-indented findings.json is still the same findings.
            let mut e = good.clone();
            let v: serde_json::Value = serde_json::from_slice(FINDINGS).expect("json");
            e.insert(
                fmt::FINDINGS.into(),
                serde_json::to_vec_pretty(&v).expect("json"),
            );
            check(&e, None, &vendor).expect("whitespace is not a change");
            // Policy.
            let mut e = good.clone();
            e.insert(fmt::POLICY.into(), b"fail_on: none\n".to_vec());
            fails_with(check(&e, None, &vendor), "policy.yaml: sha256");
            // Envelope: payload swapped for another statement, signature kept.
            let mut e = good.clone();
            let mut env: serde_json::Value =
                serde_json::from_slice(&good[fmt::ENVELOPE]).expect("json");
            let other = entries(&app, &m, ("kit-10", 9));
            let other: serde_json::Value =
                serde_json::from_slice(&other[fmt::ENVELOPE]).expect("json");
            env["payload"] = other["payload"].clone();
            env["signatures"][0]["sig"] = good_sig(&good);
            e.insert(
                fmt::ENVELOPE.into(),
                serde_json::to_vec(&env).expect("json"),
            );
            fails_with(check(&e, None, &vendor), "signature check");
            // Envelope signed by another appliance, bundle key swapped to match: the
            // pinned key catches it.
            let rogue = key(5);
            let e = entries(&rogue, &m, ("kit-9", 9));
            check(&e, None, &vendor).expect("self-consistent");
            fails_with(check(&e, Some(&app), &vendor), "signature check");
            // Manifest: one byte edited breaks the vendor signature.
            let mut e = good.clone();
            let edited = String::from_utf8(m.clone())
                .expect("utf8")
                .replace("kit-9", "kit-8");
            e.insert(fmt::KIT_MANIFEST.into(), edited.into_bytes());
            fails_with(
                check(&e, None, &vendor),
                "kit/manifest.json: vendor signature check failed",
            );
            // Wrong vendor key.
            fails_with(
                check(&good, None, &key(8)),
                "kit/manifest.json: vendor signature check failed",
            );
            // Another genuine kit's manifest in place of the scan's.
            let mut e = good.clone();
            e.insert(fmt::KIT_MANIFEST.into(), manifest(&vendor, "kit-10", 10));
            fails_with(check(&e, None, &vendor), "kit manifest digest");
            // A statement whose kit id is not the manifest's (digest made to match).
            let e = entries(&app, &m, ("kit-other", 9));
            fails_with(
                check(&e, None, &vendor),
                "is not the statement's kit kit-other",
            );
            // A missing entry, and garbage.
            let mut e = good.clone();
            e.remove(fmt::FINDINGS);
            fails_with(check(&e, None, &vendor), "the bundle has no findings.json");
            fails_with(
                verify_bundle(
                    b"garbage",
                    None,
                    &signing::TrustRoot::single(vendor.public()),
                    None,
                ),
                "unreadable bundle",
            );
        }

        fn good_sig(e: &BTreeMap<String, Vec<u8>>) -> serde_json::Value {
            let env: serde_json::Value = serde_json::from_slice(&e[fmt::ENVELOPE]).expect("json");
            env["signatures"][0]["sig"].clone()
        }
    }
}
