//! Untrusted input never panics: arbitrary bytes and mutations of valid artefacts go
//! through every parser and verifier and come back as errors (or, for unchanged input,
//! as success).
use proptest::prelude::*;
use signing::dsse::{self, Envelope};
use signing::jwt::{self, Validation};
use signing::minisign::{self, SignOptions, SignatureBox, VerifyOptions};
use signing::{KeyId, KeyPair, TrustRoot};

fn key() -> KeyPair {
    KeyPair::from_seed(KeyId([5; 8]), &[5; 32])
}

fn mutate(base: &[u8], pos: usize, byte: u8) -> Vec<u8> {
    let mut v = base.to_vec();
    if !v.is_empty() {
        let i = pos % v.len();
        v[i] = byte;
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn minisign_text_never_panics(text in ".{0,400}", pos in any::<usize>(), byte in any::<u8>()) {
        let k = key();
        let trust = TrustRoot::single(k.public());
        let allow = VerifyOptions { allow_legacy: true, max_legacy_bytes: 1024 };
        let _ = minisign::verify_reader(&trust, &SignatureBox::from_text(text), &b"m"[..], &allow);
        let good = minisign::sign_reader(&k, &b"m"[..], &SignOptions::default()).expect("sign");
        let bad = String::from_utf8_lossy(&mutate(good.as_str().as_bytes(), pos, byte)).into_owned();
        let r = minisign::verify_reader(&trust, &SignatureBox::from_text(bad), &b"m"[..], &allow);
        if let Ok(v) = r {
            // only the unsigned parts (untrusted comment, line ends) may have changed
            prop_assert_eq!(v.trusted_comment, "timestamp:0\thashed");
        }
    }

    #[test]
    fn jwt_never_panics(text in ".{0,400}", pos in any::<usize>(), byte in any::<u8>()) {
        let k = key();
        let trust = TrustRoot::single(k.public());
        let v = Validation { now: 0, leeway_secs: u64::MAX, issuer: Some("i".into()), audience: Some("a".into()) };
        let _ = jwt::verify(&text, &trust, &v);
        let _ = jwt::decode_unverified_header(&text);
        let claims = jwt::Claims { sub: "s".into(), exp: 10, iss: Some("i".into()), ..jwt::Claims::default() };
        let good = jwt::issue(&claims, &k).expect("issue");
        let bad = String::from_utf8_lossy(&mutate(good.as_bytes(), pos, byte)).into_owned();
        if bad != good {
            // any change to a signed token must not verify
            let no_aud = Validation { audience: None, ..v };
            let r = jwt::verify(&bad, &trust, &no_aud);
            prop_assert!(r.is_err());
        }
    }

    #[test]
    fn dsse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), pos in any::<usize>(), byte in any::<u8>()) {
        let k = key();
        let trust = TrustRoot::single(k.public());
        if let Ok(e) = Envelope::from_json(&bytes) {
            let _ = dsse::verify(&e, &trust);
        }
        let good = dsse::sign("t", b"body", &[&k]).expect("sign").to_json();
        let bad = mutate(&good, pos, byte);
        if let Ok(e) = Envelope::from_json(&bad)
            && let Ok(v) = dsse::verify(&e, &trust)
        {
            // whatever still verifies carries exactly the signed type and body
            prop_assert_eq!(v.body, b"body".to_vec());
            prop_assert_eq!(v.payload_type, "t");
        }
    }
}
