#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

#[allow(clippy::all, missing_docs, unused, rustdoc::all)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/deno_deploy_generated.rs"));
}

mod client;
mod error;
pub mod ext;
mod retry;
mod validate;

pub use client::{
    install_tls_provider, ClientBuilder, ClientState, Token, API_URL_ENV, DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_STREAM_IDLE_TIMEOUT, TOKEN_ENV,
};
pub use error::{ApiError, Error};
pub use generated::{builder, types, ByteStream, Client, ClientInfo, ResponseValue};
pub use retry::{
    retry_non_idempotent, RetryPolicy, DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_DELAY,
    DEFAULT_RETRY_BASE_DELAY,
};

/// The error type of the generated `send()` calls; converts into [`Error`] with `?`.
pub type RawError = progenitor_client::Error<types::Error>;

/// What the spec defines that the generator could not express, and hand-written code supplies.
pub mod spec {
    /// One parameter removed from the generated code.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct RemovedParameter {
        /// The operation it belongs to.
        pub operation_id: &'static str,
        /// Its name on the wire.
        pub name: &'static str,
        /// `query`, `header` or `cookie`.
        pub location: &'static str,
        /// Its serialization style.
        pub style: &'static str,
        /// Whether the spec requires it.
        pub required: bool,
    }

    include!(concat!(env!("OUT_DIR"), "/removed_parameters.rs"));
}

/// The traits that add `.stream()` and `.pages()` to list builders, and the client.
pub mod prelude {
    pub use crate::ext::Paginated;
    pub use crate::{Client, Error};
}
