//! Hand-written additions to the generated API: what the spec alone cannot express.
//!
//! Pagination over the `Link` header, the typed env var merge patch, the label filter of
//! listApps, progress and log streams, waiting for a revision, and assets from a directory.

pub mod apps;
pub mod assets;
pub(crate) mod call;
pub mod env;
pub mod link;
pub mod pagination;

pub use apps::ListAppsByLabels;
pub use env::{AppUpdate, Contexts, EnvVarPatch, ValuePatch};
pub use pagination::{Page, Pages, Paginated};
