//! The one TLS crypto provider of the process.
//!
//! reqwest is built without a provider (see Cargo.toml: ring instead of
//! aws-lc-rs, whose C build costs minutes), so one must be installed before
//! the first HTTP client is built, or building it fails.

/// Install ring as rustls' process-wide provider. Idempotent: a provider
/// installed earlier (by another call or a test harness) is kept.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err only says that a provider is already installed: the goal.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
