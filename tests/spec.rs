//! The generated surface matches the vendored spec: every operation, every removed parameter
//! supplied by hand, and the hand-written request types in step with their schemas.

use std::collections::BTreeSet;

use deno_deploy::{ext::AppUpdate, spec::REMOVED_PARAMETERS, Client};

const SPEC: &str = include_str!("../openapi/deno-deploy-v2-api-openapi.yml");

fn spec_value(pointer: &str) -> serde_json::Value {
    // The YAML spec is read with the same crate the build uses, as a dev-dependency.
    let doc: serde_json::Value = serde_yaml_ng::from_str(SPEC).expect("the spec parses");
    doc.pointer(pointer).cloned().unwrap_or_default()
}

#[test]
fn every_operation_of_the_spec_is_callable() {
    let client = Client::builder().token("ddo_x").build().unwrap();
    // Each builder exists; building them sends nothing.
    let _ = (
        client.list_apps(),
        client.create_app(),
        client.get_app(),
        client.update_app(),
        client.delete_app(),
        client.deploy_app(),
        client.list_revisions(),
        client.get_app_logs(),
        client.get_revision(),
        client.delete_revision(),
        client.cancel_revision(),
        client.stream_revision_progress(),
    );
    let listed = [
        "listApps",
        "createApp",
        "getApp",
        "updateApp",
        "deleteApp",
        "deployApp",
        "listRevisions",
        "getAppLogs",
        "getRevision",
        "deleteRevision",
        "cancelRevision",
        "streamRevisionProgress",
    ];
    let paths = spec_value("/paths");
    let in_spec: Vec<String> = paths
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|operation| operation.get("operationId")?.as_str().map(str::to_owned))
        .collect();
    let new: Vec<&String> = in_spec
        .iter()
        .filter(|id| !listed.contains(&id.as_str()))
        .collect();
    let gone: Vec<&&str> = listed
        .iter()
        .filter(|id| !in_spec.iter().any(|s| s == *id))
        .collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "operations new in the spec: {new:?} (add each to this list and to the emulator); \
         operations gone from it: {gone:?}"
    );
}

#[test]
fn the_only_parameter_the_generator_refuses_is_the_label_filter() {
    let removed: Vec<_> = REMOVED_PARAMETERS
        .iter()
        .map(|p| (p.operation_id, p.name, p.location, p.style, p.required))
        .collect();
    // A new entry here needs hand-written support, like `ListAppsByLabels` for this one.
    assert_eq!(
        removed,
        [("listApps", "labels", "query", "deepObject", false)]
    );
}

#[test]
fn the_hand_written_update_body_has_every_field_of_the_schema() {
    let schema = schemars::schema_for!(AppUpdate);
    let ours: BTreeSet<String> = schema
        .schema
        .object
        .unwrap()
        .properties
        .into_keys()
        .collect();
    let spec: BTreeSet<String> = spec_value("/components/schemas/UpdateAppRequest/properties")
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        ours, spec,
        "UpdateAppRequest changed in the spec: update src/ext/env.rs"
    );

    let patch = schemars::schema_for!(deno_deploy::ext::EnvVarPatch);
    let ours: BTreeSet<String> = patch
        .schema
        .object
        .unwrap()
        .properties
        .into_keys()
        .collect();
    let spec: BTreeSet<String> = spec_value("/components/schemas/EnvVarUpdate/properties")
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        ours, spec,
        "EnvVarUpdate changed in the spec: update src/ext/env.rs"
    );
}

#[test]
fn the_vendored_spec_is_the_shared_one_byte_for_byte() {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/spec/deno-deploy-v2-api-openapi.yml");
    // Only checkable where the shared folder sits beside the checkout (CI and developers).
    if let Ok(bytes) = std::fs::read(&shared) {
        assert!(
            bytes == SPEC.as_bytes(),
            "openapi/deno-deploy-v2-api-openapi.yml differs from {}: the vendored spec is a \
             copy of the shared one; copy a new spec to both",
            shared.display()
        );
    }
}
