//! An in-memory, spec-faithful emulator of the Deno Deploy REST API v2, for offline tests.
//!
//! Start one with [`Emulator::start`], point a client at [`Emulator::base_url`] with
//! [`Emulator::token`], and drop it to stop it. It serves the twelve operations of the spec
//! under `/v2`, simulates builds and runtime logs, and can inject faults on request.

#![deny(missing_docs)]

mod apps;
mod emulator;
mod error;
mod fault;
mod logs;
mod operation;
mod query;
mod revisions;
mod server;
mod store;
mod stream;
mod validate;

pub use emulator::{Emulator, EmulatorConfig, EmulatorError};
pub use fault::{Fault, FaultRule, FaultTarget, InvalidFaultRule};
pub use logs::{LogEntry, LogLevel, UnknownLogLevel};
pub use operation::{Operation, UnknownOperation};
pub use store::REGIONS;
