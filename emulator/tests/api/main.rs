//! API tests: every operation of the spec, error paths included, over real HTTP against an
//! emulator on 127.0.0.1, with every JSON body checked against the vendored spec.
//!
//! One test binary holds them all (one link instead of many); each module covers one area.

mod apps;
mod binary;
mod errors;
mod faults;
mod library;
mod logs;
mod progress;
mod revisions;
mod support;
