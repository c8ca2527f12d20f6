//! Temporary.
/// Temporary.
#[derive(Debug, thiserror::Error)]
#[error("assets")]
pub struct AssetsError;
