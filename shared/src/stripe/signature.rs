//! Stripe's webhook signature: the `Stripe-Signature` header is `t=<unix seconds>` and one or
//! more `v1=<hex>`, each an HMAC-SHA256 of `"<t>.<raw body>"` keyed with the endpoint's secret
//! (several `v1` while a secret is being rolled). An event verifies when any `v1` matches and
//! `t` is within [`TOLERANCE_SECONDS`] of now, so a captured delivery cannot be replayed later.
//! The comparison is constant-time (`verify_slice`); the body is checked as received, bytes and
//! all, before anything parses it.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far a signature's timestamp may be from now, either way (Stripe's own default).
pub const TOLERANCE_SECONDS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header has no t= timestamp or no v1= signature")]
    Malformed,
    #[error("the signature's timestamp is more than {TOLERANCE_SECONDS} s from now")]
    Stale,
    #[error("no v1 signature matches the payload")]
    Mismatch,
}

/// Checks `header` against `payload` with `secret`, at `now` (unix seconds).
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secret: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", hex)) => signatures.extend(decode_hex(hex)),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    let signed = signed_payload(timestamp, payload);
    let matches = signatures.iter().any(|signature| {
        mac(secret)
            .map(|mut m| {
                m.update(&signed);
                m.verify_slice(signature).is_ok()
            })
            .unwrap_or(false)
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header Stripe would send for `payload` at `timestamp`: what tests sign deliveries with.
pub fn sign(payload: &[u8], secret: &str, timestamp: i64) -> String {
    let hex = mac(secret)
        .map(|mut m| {
            m.update(&signed_payload(timestamp, payload));
            m.finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        })
        .unwrap_or_default();
    format!("t={timestamp},v1={hex}")
}

fn mac(secret: &str) -> Option<HmacSha256> {
    HmacSha256::new_from_slice(secret.as_bytes()).ok()
}

fn signed_payload(timestamp: i64, payload: &[u8]) -> Vec<u8> {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(payload);
    signed
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_signature_made_with_the_secret_verifies() {
        let header = sign(BODY, SECRET, NOW - 10);
        assert_eq!(verify(Some(&header), BODY, SECRET, NOW), Ok(()));
        // Stripe's own example shape: spaces after commas and unknown schemes are ignored.
        let spaced = format!("{}, v0=abcd", header.replace(',', ", "));
        assert_eq!(verify(Some(&spaced), BODY, SECRET, NOW), Ok(()));
    }

    #[test]
    fn forged_signatures_and_altered_bodies_are_refused() {
        let forged = sign(BODY, "whsec_someone_else", NOW);
        assert_eq!(
            verify(Some(&forged), BODY, SECRET, NOW),
            Err(SignatureError::Mismatch)
        );
        let header = sign(BODY, SECRET, NOW);
        let altered = br#"{"id":"evt_1","type":"payment_intent.succeeded" }"#;
        assert_eq!(
            verify(Some(&header), altered, SECRET, NOW),
            Err(SignatureError::Mismatch)
        );
        // The signature of another timestamp does not carry over to this one.
        let moved = header.replace(&format!("t={NOW}"), &format!("t={}", NOW - 1));
        assert_eq!(
            verify(Some(&moved), BODY, SECRET, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let at_edge = sign(BODY, SECRET, NOW - TOLERANCE_SECONDS);
        assert_eq!(verify(Some(&at_edge), BODY, SECRET, NOW), Ok(()));
        let stale = sign(BODY, SECRET, NOW - TOLERANCE_SECONDS - 1);
        assert_eq!(
            verify(Some(&stale), BODY, SECRET, NOW),
            Err(SignatureError::Stale)
        );
        let future = sign(BODY, SECRET, NOW + TOLERANCE_SECONDS + 1);
        assert_eq!(
            verify(Some(&future), BODY, SECRET, NOW),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn missing_parts_are_refused() {
        assert_eq!(
            verify(None, BODY, SECRET, NOW),
            Err(SignatureError::Missing)
        );
        let header = sign(BODY, SECRET, NOW);
        let v1 = header.split(',').nth(1).unwrap().to_owned();
        for bad in [
            "",
            v1.as_str(),
            &format!("t={NOW}"),
            &format!("t=soon,{v1}"),
            &format!("t={NOW},v1=zz"),
            &format!("t={NOW},v1=abc"),
        ] {
            assert_eq!(
                verify(Some(bad), BODY, SECRET, NOW),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn any_of_several_v1_signatures_may_match() {
        let good = sign(BODY, SECRET, NOW);
        let old = sign(BODY, "whsec_rolled_out", NOW);
        let old_v1 = old.split(',').nth(1).unwrap();
        let good_v1 = good.split(',').nth(1).unwrap();
        let both = format!("t={NOW},{old_v1},{good_v1}");
        assert_eq!(verify(Some(&both), BODY, SECRET, NOW), Ok(()));
        let neither = format!("t={NOW},{old_v1},{old_v1}");
        assert_eq!(
            verify(Some(&neither), BODY, SECRET, NOW),
            Err(SignatureError::Mismatch)
        );
    }
}
