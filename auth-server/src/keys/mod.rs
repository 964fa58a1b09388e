//! RSA signing keys: the key ring that signs and publishes, its on-disk
//! store, and the reload that lets running servers pick up rotations.
//!
//! Rotation never invalidates a live token: a new key is published in the
//! JWKS first and signs only from its activation time, and an old key stays
//! published until it is retired, after every token it signed has expired.

mod ring;
mod signing;
pub mod store;

pub use ring::{KeyRing, KeyRingHandle};
pub use signing::{KeyError, MIN_KEY_BITS, SigningKey};
