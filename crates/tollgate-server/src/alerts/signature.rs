//! How an alert is signed: `Tollgate-Signature: t=<unix seconds>,v1=<hex>`, the HMAC-SHA256 of
//! `<t>.<body>` under the policy's secret — Stripe's scheme, so a receiver checks the body and
//! refuses a replay older than it accepts.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header that carries the signature.
pub(crate) const SIGNATURE_HEADER: &str = "tollgate-signature";

/// The header that carries the delivery's id (also in the body).
pub(crate) const DELIVERY_HEADER: &str = "tollgate-delivery";

/// The value of [`SIGNATURE_HEADER`] for `body` sent at `at` (unix seconds) under `secret`.
pub(crate) fn sign(secret: &[u8], at: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(at.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("t={at},v1={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_the_timestamp_a_dot_and_the_body() {
        // The value `printf '%s' '1767225600.{"id":"alr_1"}' | openssl dgst -sha256 -hmac
        // 'whsec_0123456789abcdef'` prints, as docs/policy.md shows a receiver checking it.
        assert_eq!(
            sign(
                b"whsec_0123456789abcdef",
                1_767_225_600,
                br#"{"id":"alr_1"}"#
            ),
            "t=1767225600,v1=dc23d6c527f86ebf449921a08984082f0a63fb2759d3ff7c6e293257542d4c89"
        );
    }
}
