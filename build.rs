//! Generates the raw client from the vendored OpenAPI document into `OUT_DIR`.
//!
//! The spec is the only input: bumping it is a file replace and a rebuild. Generation reruns only
//! when the spec or this build code changes, never for edits under `src/`.

use std::{env, fs, path::PathBuf, process::ExitCode};

const SPEC: &str = "openapi/deno-deploy-v2-api-openapi.yml";

fn main() -> ExitCode {
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DENO_DEPLOY_SPEC");
    println!("cargo::rustc-check-cfg=cfg(deno_deploy_spec, values(any()))");

    // A different spec file can be generated for tests of spec bumps; code and tests written for
    // that file can be gated on `#[cfg(deno_deploy_spec = "<its file stem>")]`.
    let spec_path = env::var("DENO_DEPLOY_SPEC").unwrap_or_else(|_| SPEC.to_owned());
    if spec_path != SPEC {
        println!("cargo:rerun-if-changed={spec_path}");
        let stem = std::path::Path::new(&spec_path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        println!("cargo:rustc-cfg=deno_deploy_spec={stem:?}");
    }
    let source = match fs::read_to_string(&spec_path) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("error: cannot read the OpenAPI spec {spec_path}: {e}");
            return ExitCode::FAILURE;
        }
    };

    let settings = deno_deploy_codegen::Settings {
        derives: vec!["schemars::JsonSchema".into()],
        // updateApp's body must send explicit nulls and empty maps, which the generated type
        // cannot; see `src/ext/env.rs`.
        replacements: vec![("UpdateAppRequest".into(), "crate::ext::AppUpdate".into())],
        inner_type: Some("crate::ClientState".into()),
    };
    let generated = match deno_deploy_codegen::generate(&source, &settings) {
        Ok(generated) => generated,
        Err(e) => {
            eprintln!("error: cannot generate the client from {spec_path}: {e}");
            return ExitCode::FAILURE;
        }
    };

    // The request validator reads the spec's rules at run time, in the normalized 3.0 form.
    let spec_json = deno_deploy_codegen::parse_document(&source).map(|mut doc| {
        deno_deploy_codegen::normalize::normalize(&mut doc);
        doc.to_string()
    });
    let spec_json = match spec_json {
        Ok(json) => json,
        Err(e) => {
            eprintln!("error: cannot re-read {spec_path}: {e}");
            return ExitCode::FAILURE;
        }
    };

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let removed: Vec<String> = generated
        .removed
        .iter()
        .map(|r| {
            format!(
                "RemovedParameter {{ operation_id: {:?}, name: {:?}, location: {:?}, style: {:?}, \
                 required: {} }}",
                r.operation_id, r.name, r.location, r.style, r.required
            )
        })
        .collect();
    let removed = format!(
        "/// Parameters the generator cannot express, supplied by hand-written code instead.\n\
         pub const REMOVED_PARAMETERS: &[RemovedParameter] = &[{}];\n",
        removed.join(", ")
    );
    let written = fs::write(out.join("deno_deploy_generated.rs"), generated.code)
        .and_then(|()| fs::write(out.join("removed_parameters.rs"), removed))
        .and_then(|()| {
            let lists = deno_deploy_codegen::pagination::paginated_source(&generated.lists);
            fs::write(out.join("paginated.rs"), lists)
        })
        .and_then(|()| fs::write(out.join("spec.json"), spec_json));
    if let Err(e) = written {
        eprintln!(
            "error: cannot write generated code to {}: {e}",
            out.display()
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
