//! `spec-diff OLD NEW`: prints what changed between two OpenAPI documents, breaking changes
//! first, and exits with 1 when something breaks callers (0 when nothing does, 2 when the
//! arguments or a document cannot be used).

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: spec-diff OLD.yml NEW.yml

Compares two OpenAPI documents (YAML or JSON) and lists the changes that break callers written
against OLD, then the changes that do not.
Exit code: 0 nothing breaks callers, 1 something does, 2 usage or parse error.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let [old, new] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let documents = spec_diff::load(&PathBuf::from(old))
        .and_then(|old| Ok((old, spec_diff::load(&PathBuf::from(new))?)));
    let (old, new) = match documents {
        Ok(documents) => documents,
        Err(e) => {
            eprintln!("spec-diff: {e}");
            return ExitCode::from(2);
        }
    };
    let report = spec_diff::compare(&old, &new);
    print!("{report}");
    if report.breaks_callers() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
