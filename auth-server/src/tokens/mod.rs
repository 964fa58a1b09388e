//! Token minting: signed access tokens and opaque refresh tokens.

pub mod access;
pub mod refresh;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Returns `byte_count` random bytes from the operating system, base64url
/// encoded without padding.
pub fn random_base64url(byte_count: usize) -> String {
    let mut bytes = vec![0u8; byte_count];
    // SystemRandom reads the OS generator; it fails only when the OS cannot
    // supply randomness at all, and no token may be issued then.
    if SystemRandom::new().fill(&mut bytes).is_err() {
        panic!("the operating system random number generator failed");
    }
    URL_SAFE_NO_PAD.encode(bytes)
}
