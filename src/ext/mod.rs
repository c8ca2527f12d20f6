//! Hand-written additions to the generated API: what the spec alone cannot express.
//!
//! Pagination over the `Link` header, the typed env var merge patch, the label filter of
//! listApps, progress and log streams, waiting for a revision, and assets from a directory.

pub mod apps;
pub mod assets;
pub(crate) mod call;
pub mod deploy;
pub mod deploy_body;
pub mod env;
pub mod link;
pub mod ndjson;
pub mod pagination;
pub mod sse;
pub mod streams;
pub mod wait;

pub use apps::ListAppsByLabels;
pub use deploy::{DeployDirectory, Deployed};
pub use deploy_body::DeployBody;
pub use env::{AppUpdate, Contexts, EnvVarPatch, ValuePatch};
pub use pagination::{Page, Pages, Paginated};
pub use streams::{
    FollowLogs, LogStream, ProgressStream, RevisionProgressRequest, Stage, StreamFormat,
};
pub use wait::{WaitEvent, WaitForRevision};
