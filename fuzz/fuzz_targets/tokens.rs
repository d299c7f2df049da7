//! Access tokens and refresh tokens as presented: any bearer text is verified or refused, and any
//! claims the service could have signed (the fuzzer plays the key holder) are verified without a
//! panic, whatever their numbers.
#![no_main]

use chrono::{TimeZone, Utc};
use forge::sign;
use libfuzzer_sys::fuzz_target;
use user_service_domain::tokens::{AccessTokens, hash_secret, secrets_equal};

const SECRET: &[u8] = b"fuzzing-secret-fuzzing-secret-32";
const ISSUER: &str = "user-service";

/// Signs a claims object as the service would, without the service's `issue` (which only signs
/// claims it built itself).
mod forge {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    pub fn sign(claims: &[u8], secret: &[u8]) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims);
        let signing_input = format!("{header}.{body}");
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
        mac.update(signing_input.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{sig}")
    }
}

fuzz_target!(|data: &[u8]| {
    let tokens = AccessTokens::new(SECRET, ISSUER, 900);
    let now = Utc
        .timestamp_opt(1_700_000_000, 0)
        .single()
        .expect("instant");
    let text = String::from_utf8_lossy(data);
    let _ = tokens.verify(&text, now);
    let _ = tokens.verify(&sign(data, SECRET), now);
    // Refresh tokens are opaque: hashed, then looked up.
    assert_eq!(hash_secret(&text).len(), 64);
    assert!(secrets_equal(&text, &text));
});
