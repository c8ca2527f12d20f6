//! The report on fixture pairs: `base.yml` against one changed copy per kind of change, and
//! the vendored spec against itself. Exit codes are checked on the binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use spec_diff::Report;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn compare(name: &str) -> Report {
    let old = spec_diff::load(&fixture("base.yml")).expect("base fixture loads");
    let new = spec_diff::load(&fixture(name)).expect("changed fixture loads");
    spec_diff::compare(&old, &new)
}

fn lines(changes: &[spec_diff::Change]) -> Vec<String> {
    changes.iter().map(ToString::to_string).collect()
}

fn run(old: &Path, new: &Path) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_spec-diff"))
        .arg(old)
        .arg(new)
        .output()
        .expect("spec-diff runs");
    (
        output.status.code().expect("exit code"),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn the_vendored_spec_against_itself_has_no_changes_and_exits_0() {
    let spec =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/deno-deploy-v2-api-openapi.yml");
    let doc = spec_diff::load(&spec).expect("the vendored spec loads");
    assert_eq!(spec_diff::compare(&doc, &doc), Report::default());

    let (code, stdout, _) = run(&spec, &spec);
    assert_eq!((code, stdout.as_str()), (0, "No changes.\n"));
}

#[test]
fn a_removed_operation_breaks_callers_and_exits_1() {
    let report = compare("removed_operation.yml");
    assert_eq!(
        lines(&report.breaking),
        ["DELETE /apps/{app}: operation deleteApp removed"]
    );
    assert!(report.additions.is_empty());

    let (code, stdout, _) = run(&fixture("base.yml"), &fixture("removed_operation.yml"));
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with(
            "Breaking changes (1):\n  DELETE /apps/{app}: operation deleteApp removed\n"
        ),
        "{stdout}"
    );
}

#[test]
fn a_renamed_operation_id_is_reported_at_its_method_and_path() {
    let report = compare("renamed_operation.yml");
    assert_eq!(
        lines(&report.breaking),
        ["GET /apps/{app}: operation renamed from getApp to fetchApp"]
    );
}

#[test]
fn an_operation_moved_to_another_path_is_found_by_its_operation_id() {
    let report = compare("moved_operation.yml");
    assert_eq!(
        lines(&report.breaking),
        ["DELETE /apps/{app}: operation deleteApp moved to POST /apps/{app}/delete"]
    );
    assert!(report.additions.is_empty(), "{:?}", report.additions);
}

#[test]
fn removed_fields_are_found_through_refs_in_responses_requests_and_unused_schemas() {
    let report = compare("removed_fields.yml");
    assert_eq!(
        lines(&report.breaking),
        [
            "GET /apps response 200 []App.slug: removed",
            "GET /apps/{app} response 200 App.slug: removed",
            "POST /apps request CreateAppRequest.kind: removed",
            "POST /apps response 200 App.slug: removed",
            "schema Progress.stage: removed",
        ]
    );
    assert_eq!(
        lines(&report.additions),
        ["schema Progress.step: new optional field"]
    );
}

#[test]
fn changed_types_and_formats_break_callers() {
    let report = compare("changed_types.yml");
    let breaking = lines(&report.breaking);
    for expected in [
        "GET /apps/{app} response 200 App.note: type changed from string to integer",
        "GET /apps/{app} response 200 App.id: format changed from uuid to uri",
        "POST /apps request CreateAppRequest.count: type changed from integer to string",
    ] {
        assert!(
            breaking.iter().any(|l| l == expected),
            "{expected} in {breaking:#?}"
        );
    }
}

#[test]
fn newly_required_request_fields_and_parameters_break_callers() {
    let report = compare("newly_required.yml");
    assert_eq!(
        lines(&report.breaking),
        [
            "GET /apps query parameter limit: now required",
            "POST /apps header parameter idempotency-key: new required parameter",
            "POST /apps request CreateAppRequest.count: now required",
        ]
    );
}

#[test]
fn removed_enum_values_break_callers_in_requests_and_responses() {
    let report = compare("removed_enum_values.yml");
    let breaking = lines(&report.breaking);
    assert!(breaking.contains(
        &r#"POST /apps request CreateAppRequest.kind: enum value "dynamic" removed"#.to_owned()
    ));
    assert!(breaking.contains(
        &r#"GET /apps/{app} response 200 App.status: enum value "building" removed"#.to_owned()
    ));
    assert_eq!(breaking.len(), 4, "{breaking:#?}");
}

#[test]
fn narrowed_request_constraints_break_callers() {
    let report = compare("narrowed_constraints.yml");
    assert_eq!(
        lines(&report.breaking),
        [
            "POST /apps request CreateAppRequest.count: maximum lowered from 100 to 50",
            "POST /apps request CreateAppRequest.count: minimum raised from 1 to 2",
            "POST /apps request CreateAppRequest.labels: maxProperties lowered from 10 to 5",
            "POST /apps request CreateAppRequest.slug: maxLength lowered from 63 to 32",
            "POST /apps request CreateAppRequest.slug: minLength raised from 3 to 5",
            r#"POST /apps request CreateAppRequest.slug: pattern changed from "^[a-z][a-z0-9-]*$" to "^[a-z]+$""#,
            "POST /apps request CreateAppRequest.tags: maxItems lowered from 5 to 3",
        ]
    );
}

/// A one-operation document whose response field `note` has the given maxLength.
fn note_with_max_length(max: u32) -> serde_json::Value {
    spec_diff::parse(&format!(
        "openapi: 3.1.0
paths:
  /notes/{{id}}:
    get:
      operationId: getNote
      responses:
        '200':
          content:
            application/json:
              schema:
                type: object
                properties:
                  note: {{type: string, maxLength: {max}}}
"
    ))
    .unwrap()
}

#[test]
fn a_narrowed_response_constraint_is_harmless_and_a_widened_one_breaks_callers() {
    // Old clients validate what they read: fewer possible values are fine, more are not.
    let narrowed = spec_diff::compare(&note_with_max_length(10), &note_with_max_length(5));
    assert!(narrowed.breaking.is_empty(), "{:?}", narrowed.breaking);
    assert_eq!(
        lines(&narrowed.additions),
        ["GET /notes/{id} response 200 note: maxLength lowered from 10 to 5"]
    );

    let widened = spec_diff::compare(&note_with_max_length(10), &note_with_max_length(20));
    assert_eq!(
        lines(&widened.breaking),
        ["GET /notes/{id} response 200 note: maxLength raised from 10 to 20"]
    );
}

#[test]
fn going_back_from_additions_breaks_callers() {
    let old = spec_diff::load(&fixture("additions.yml")).unwrap();
    let new = spec_diff::load(&fixture("base.yml")).unwrap();
    let breaking = lines(&spec_diff::compare(&old, &new).breaking);
    for expected in [
        "GET /apps/{app}/revisions: operation listRevisions removed",
        "GET /apps query parameter layer: removed",
        "POST /apps request CreateAppRequest.production: removed",
        "POST /apps request CreateAppRequest.slug: maxLength lowered from 128 to 63",
        r#"GET /apps/{app} response 200 App.status: enum value "skipped" removed"#,
    ] {
        assert!(
            breaking.iter().any(|l| l == expected),
            "{expected} in {breaking:#?}"
        );
    }
}

#[test]
fn additions_are_listed_as_non_breaking_and_exit_0() {
    let report = compare("additions.yml");
    assert!(report.breaking.is_empty(), "{:#?}", report.breaking);
    let additions = lines(&report.additions);
    for expected in [
        "GET /apps/{app}/revisions: new operation listRevisions",
        "GET /apps query parameter layer: new optional parameter",
        r#"GET /apps/{app} response 200 App.status: enum value "skipped" added"#,
        "POST /apps request CreateAppRequest.slug: maxLength raised from 63 to 128",
        "POST /apps request CreateAppRequest.production: new optional field",
        "POST /apps response 409: new response",
    ] {
        assert!(
            additions.iter().any(|l| l == expected),
            "{expected} in {additions:#?}"
        );
    }

    let (code, stdout, _) = run(&fixture("base.yml"), &fixture("additions.yml"));
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("Non-breaking changes (8):\n"),
        "{stdout}"
    );
    assert!(stdout.ends_with("0 breaking, 8 non-breaking\n"), "{stdout}");
}

#[test]
fn a_missing_file_or_a_non_openapi_document_exits_2_naming_it() {
    let (code, _, stderr) = run(&fixture("base.yml"), &fixture("no-such-file.yml"));
    assert_eq!(code, 2);
    assert!(stderr.contains("no-such-file.yml"), "{stderr}");

    let cargo_toml = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let (code, _, stderr) = run(&fixture("base.yml"), &cargo_toml);
    assert_eq!(code, 2);
    assert!(stderr.contains("Cargo.toml"), "{stderr}");
}

#[test]
fn a_wrong_number_of_arguments_exits_2_with_the_usage() {
    let output = Command::new(env!("CARGO_BIN_EXE_spec-diff"))
        .arg("only-one.yml")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("usage: spec-diff OLD.yml NEW.yml"));
}

#[test]
fn json_documents_are_read_too_and_a_new_response_field_is_not_breaking() {
    let old = spec_diff::parse(
        r#"{"openapi": "3.0.3", "paths": {"/apps": {"get": {"operationId": "listApps",
            "responses": {"200": {"content": {"application/json": {"schema":
            {"type": "object", "properties": {"id": {"type": "string"}}}}}}}}}}}"#,
    )
    .unwrap();
    let mut new = old.clone();
    let schema = new
        .pointer_mut("/paths/~1apps/get/responses/200/content/application~1json/schema")
        .unwrap();
    schema["properties"]["slug"] = serde_json::json!({"type": "string"});
    schema["required"] = serde_json::json!(["slug"]);

    let report = spec_diff::compare(&old, &new);
    assert!(report.breaking.is_empty(), "{:?}", report.breaking);
    assert_eq!(
        lines(&report.additions),
        ["GET /apps response 200 slug: new field, always present"]
    );
}

#[test]
fn closing_a_request_schema_to_extra_properties_breaks_callers() {
    let old = spec_diff::load(&fixture("base.yml")).unwrap();
    let mut new = old.clone();
    new["components"]["schemas"]["CreateAppRequest"]["additionalProperties"] =
        serde_json::Value::Bool(false);
    new["components"]["schemas"]["App"]["additionalProperties"] = serde_json::Value::Bool(false);

    let report = spec_diff::compare(&old, &new);
    assert_eq!(
        lines(&report.breaking),
        ["POST /apps request CreateAppRequest: additional properties no longer allowed"]
    );
    assert!(lines(&report.additions).contains(
        &"GET /apps/{app} response 200 App: additional properties no longer allowed".to_owned()
    ));
}

#[test]
fn a_schema_that_is_all_of_itself_is_compared_without_looping() {
    let spec = |max: u32| {
        format!(
            r##"
openapi: 3.0.3
info: {{title: t, version: "1"}}
paths:
  /loops:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {{$ref: "#/components/schemas/Loop"}}
components:
  schemas:
    Loop:
      allOf:
        - $ref: "#/components/schemas/Loop"
        - $ref: "#/components/schemas/Other"
      properties:
        name: {{type: string, maxLength: {max}}}
    Other:
      allOf:
        - $ref: "#/components/schemas/Loop"
"##
        )
    };
    let old = spec_diff::parse(&spec(10)).unwrap();
    assert_eq!(spec_diff::compare(&old, &old), Report::default());
    let wider = spec_diff::parse(&spec(20)).unwrap();
    assert_eq!(
        lines(&spec_diff::compare(&old, &wider).breaking),
        ["GET /loops response 200 Loop.name: maxLength raised from 10 to 20"]
    );
}
