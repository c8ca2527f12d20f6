//! deployApp, listRevisions, getRevision, deleteRevision and cancelRevision.
//!
//! Builds are quick (5 ms a stage) except where a test needs a revision to stay queued.

use std::time::Duration;

use deno_deploy_emulator::EmulatorConfig;
use serde_json::{json, Value};

use crate::support::{main_ts, Api};

fn file(content: &str) -> Value {
    json!({"kind": "file", "encoding": "utf-8", "content": content})
}

/// An emulator whose builds stay queued for the length of any test.
fn slow_api() -> Api {
    Api::with(EmulatorConfig::default().build_delay(Duration::from_secs(3600)))
}

#[tokio::test]
async fn a_deploy_answers_202_with_a_queued_revision_that_then_succeeds() {
    let api = Api::start();
    api.create_app(json!({"slug": "deploy-me", "layers": [{"id": "app-layer"}],
        "env_vars": [{"key": "A", "value": "1"}], "config": {"runtime": {"type": "dynamic", "entrypoint": "main.ts"}}}))
        .await;
    let queued = api
        .deploy(
            "deploy-me",
            json!({"assets": main_ts(), "labels": {"git": "abc123"}}),
        )
        .await;
    assert_eq!(queued["status"], "queued");
    assert!(queued.get("failure_reason").is_none());
    assert_eq!(queued["labels"], json!({"git": "abc123"}));
    assert_eq!(
        queued["layers"],
        json!([{"id": "app-layer", "slug": "app-layer"}])
    );
    assert_eq!(queued["env_vars"][0]["key"], "A");
    assert_eq!(queued["config"]["runtime"]["entrypoint"], "main.ts");
    let id = queued["id"].as_str().unwrap();
    let done = api.wait_for_status(id, "succeeded").await;
    assert_eq!(done["created_at"], queued["created_at"]);
    assert!(done["updated_at"].as_str() > queued["updated_at"].as_str());
    let listed = api
        .get("/apps/deploy-me/revisions")
        .await
        .list("RevisionListItem");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["status"], "succeeded");
}

#[tokio::test]
async fn a_deploy_without_its_entrypoint_fails_with_a_clear_reason() {
    let api = Api::start();
    api.create_app(json!({"slug": "no-entry"})).await;
    let revision = api
        .deploy(
            "no-entry",
            json!({"assets": {"server.ts": file("export {}")}}),
        )
        .await;
    let failed = api
        .wait_for_status(revision["id"].as_str().unwrap(), "failed")
        .await;
    assert_eq!(
        failed["failure_reason"],
        "the entrypoint `main.ts` is not among the deployed assets"
    );
    let listed = api
        .get("/apps/no-entry/revisions?status=failed")
        .await
        .list("RevisionListItem");
    assert_eq!(listed[0]["failure_reason"], failed["failure_reason"]);
}

#[tokio::test]
async fn the_entrypoint_comes_from_the_deploy_config_or_else_the_app_config() {
    let api = Api::start();
    api.create_app(json!({"slug": "entry", "config": {"runtime": {"type": "dynamic", "entrypoint": "server.ts"}}}))
        .await;
    let assets = json!({"server.ts": file("export {}")});
    let from_app = api.deploy("entry", json!({"assets": assets})).await;
    let from_deploy = api
        .deploy("entry", json!({"assets": assets, "config": {"runtime": {"type": "dynamic", "entrypoint": "./other.ts"}}}))
        .await;
    let statik = api
        .deploy("entry", json!({"assets": {"index.html": file("<p>hi</p>")}, "config": {"runtime": {"type": "static", "spa": true}}}))
        .await;
    api.wait_for_status(from_app["id"].as_str().unwrap(), "succeeded")
        .await;
    let failed = api
        .wait_for_status(from_deploy["id"].as_str().unwrap(), "failed")
        .await;
    assert!(failed["failure_reason"]
        .as_str()
        .unwrap()
        .contains("`other.ts`"));
    assert_eq!(failed["config"]["runtime"]["entrypoint"], "./other.ts");
    api.wait_for_status(statik["id"].as_str().unwrap(), "succeeded")
        .await;
}

#[tokio::test]
async fn assets_are_validated_before_anything_is_queued() {
    let api = Api::start();
    api.create_app(json!({"slug": "assets"})).await;
    let cases = [
        (json!({}), "missing_field", "assets is required"),
        (json!({"assets": []}), "invalid_assets", "assets must be an object, not array"),
        (json!({"assets": {"main.ts": {"kind": "file", "content": "x"}}}), "invalid_assets", "assets[\"main.ts\"].encoding is required for a file"),
        (json!({"assets": {"main.ts": {"kind": "file", "encoding": "utf-8"}}}), "invalid_assets", "assets[\"main.ts\"].content is required for a file"),
        (json!({"assets": {"main.ts": {"kind": "file", "encoding": "utf-16", "content": "x"}}}), "invalid_assets", "assets[\"main.ts\"].encoding must be one of utf-8, base64, not `utf-16`"),
        (json!({"assets": {"logo.png": {"kind": "file", "encoding": "base64", "content": "not base64!"}}}), "invalid_assets", "assets[\"logo.png\"].content is not valid base64"),
        (json!({"assets": {"link": {"kind": "symlink"}}}), "invalid_assets", "assets[\"link\"].target is required for a symlink"),
        (json!({"assets": {"main.ts": {"kind": "directory"}}}), "invalid_assets", "assets[\"main.ts\"].kind must be one of file, symlink, not `directory`"),
        (json!({"assets": {"main.ts": {"encoding": "utf-8", "content": ""}}}), "invalid_assets", "assets[\"main.ts\"].kind is required"),
        (json!({"assets": {"/etc/passwd": file("x")}}), "invalid_assets", "asset path assets[\"/etc/passwd\"] must be relative to /app/src, without a leading `/`"),
        (json!({"assets": {"a/../../b.ts": file("x")}}), "invalid_assets", "asset path assets[\"a/../../b.ts\"] must not contain a `..` segment"),
        (json!({"assets": {"..": file("x")}}), "invalid_assets", "asset path assets[\"..\"] must not contain a `..` segment"),
        (json!({"assets": {"a\u{0}b": file("x")}}), "invalid_assets", "asset path assets[\"a\\u0000b\"] must not contain a NUL character"),
        (json!({"assets": {"a\\..\\..\\b": file("x")}}), "invalid_assets", "asset path assets[\"a\\\\..\\\\..\\\\b\"] must not contain a backslash"),
        (json!({"assets": {"link": {"kind": "symlink", "target": "/etc/passwd"}}}), "invalid_assets", "assets[\"link\"].target: symlink target `/etc/passwd` must be relative, not absolute"),
        (json!({"assets": {"lib/link": {"kind": "symlink", "target": "../../x"}}}), "invalid_assets", "assets[\"lib/link\"].target: symlink target `../../x` must stay inside the source folder, resolved from the link's folder (`lib`)"),
        (json!({"assets": main_ts(), "production": "yes"}), "invalid_field", "production must be a boolean, not string"),
        (json!({"assets": main_ts(), "env_vars": [{"key": "bad key", "value": "v"}]}), "invalid_env_var", "env_vars[0].key must match ^[A-Za-z_][A-Za-z0-9_]*$"),
    ];
    for (body, code, expected) in cases {
        let message = api.post("/apps/assets/deploy", body).await.error(400, code);
        assert!(message.starts_with(expected), "{message} / {expected}");
    }
    assert!(api
        .get("/apps/assets/revisions")
        .await
        .list("RevisionListItem")
        .is_empty());
}

#[tokio::test]
async fn symlinks_base64_files_and_nested_paths_are_accepted() {
    let api = Api::start();
    api.create_app(json!({"slug": "kinds"})).await;
    let revision = api
        .deploy("kinds", json!({"assets": {
            "main.ts": file("import './lib/x.ts'"),
            "lib/x.ts": file(""),
            "static/logo.png": {"kind": "file", "encoding": "base64", "content": "iVBORw0KGgo="},
            "current": {"kind": "symlink", "target": "lib/x.ts"},
            "dots..ok.ts": file("")
        }}))
        .await;
    api.wait_for_status(revision["id"].as_str().unwrap(), "succeeded")
        .await;
}

#[tokio::test]
async fn deploy_env_vars_and_layers_override_the_apps() {
    let api = Api::start();
    api.create_app(json!({"slug": "override", "layers": [{"id": "app-layer"}],
        "env_vars": [{"key": "A", "value": "app"}, {"key": "B", "value": "app"}]}))
        .await;
    let revision = api
        .deploy("override", json!({"assets": main_ts(), "layers": [{"id": "deploy-layer"}],
            "env_vars": [{"key": "B", "value": "deploy"}, {"key": "C", "value": "deploy", "secret": true}]}))
        .await;
    assert_eq!(
        revision["layers"],
        json!([{"id": "deploy-layer", "slug": "deploy-layer"}])
    );
    let vars: Vec<(Value, Value)> = revision["env_vars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["key"].clone(),
                v.get("value").cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    assert_eq!(
        vars,
        [
            (json!("A"), json!("app")),
            (json!("B"), json!("deploy")),
            (json!("C"), Value::Null)
        ]
    );
}

#[tokio::test]
async fn a_revision_serving_production_cannot_be_deleted_until_replaced() {
    let api = Api::start();
    api.create_app(json!({"slug": "serving"})).await;
    let first = api.deploy("serving", json!({"assets": main_ts()})).await;
    let first_id = first["id"].as_str().unwrap();
    api.wait_for_status(first_id, "succeeded").await;
    let message = api
        .delete(&format!("/revisions/{first_id}"))
        .await
        .error(409, "revision_serving");
    assert!(message.contains("production traffic"), "{message}");
    let second = api.deploy("serving", json!({"assets": main_ts()})).await;
    api.wait_for_status(second["id"].as_str().unwrap(), "succeeded")
        .await;
    let reply = api.delete(&format!("/revisions/{first_id}")).await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.text, "");
    api.get(&format!("/revisions/{first_id}"))
        .await
        .error(404, "revision_not_found");
    api.delete(&format!("/revisions/{}", second["id"].as_str().unwrap()))
        .await
        .error(409, "revision_serving");
}

#[tokio::test]
async fn a_preview_revision_cannot_be_deleted_but_a_plain_one_can() {
    let api = Api::start();
    api.create_app(json!({"slug": "preview"})).await;
    let preview = api
        .deploy(
            "preview",
            json!({"assets": main_ts(), "production": false, "preview": true}),
        )
        .await;
    let plain = api
        .deploy("preview", json!({"assets": main_ts(), "production": false}))
        .await;
    let preview_id = preview["id"].as_str().unwrap();
    let plain_id = plain["id"].as_str().unwrap();
    api.wait_for_status(preview_id, "succeeded").await;
    api.wait_for_status(plain_id, "succeeded").await;
    let message = api
        .delete(&format!("/revisions/{preview_id}"))
        .await
        .error(409, "revision_serving");
    assert!(message.contains("preview traffic"), "{message}");
    assert_eq!(
        api.delete(&format!("/revisions/{plain_id}")).await.status,
        204
    );
    let left = api
        .get("/apps/preview/revisions")
        .await
        .list("RevisionListItem");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], preview_id);
}

#[tokio::test]
async fn cancelling_a_queued_revision_fails_it_as_cancelled() {
    let api = slow_api();
    api.create_app(json!({"slug": "cancel-me"})).await;
    let revision = api.deploy("cancel-me", json!({"assets": main_ts()})).await;
    let id = revision["id"].as_str().unwrap();
    let cancelled = api
        .post(&format!("/revisions/{id}/cancel"), json!({}))
        .await
        .ok(200, "Revision");
    assert_eq!(cancelled["status"], "failed");
    assert_eq!(
        cancelled["failure_reason"],
        "the revision build was cancelled on request"
    );
    let fetched = api
        .get(&format!("/revisions/{id}"))
        .await
        .ok(200, "Revision");
    assert_eq!(fetched["status"], "failed");
    let again = api
        .post(&format!("/revisions/{id}/cancel"), json!({}))
        .await
        .error(409, "revision_not_cancellable");
    assert!(again.contains("has status failed"), "{again}");
    let deleted = api.delete(&format!("/revisions/{id}")).await;
    assert_eq!(deleted.status, 204, "a cancelled revision serves nothing");
}

#[tokio::test]
async fn cancelling_a_succeeded_revision_is_a_409() {
    let api = Api::start();
    api.create_app(json!({"slug": "too-late"})).await;
    let revision = api.deploy("too-late", json!({"assets": main_ts()})).await;
    let id = revision["id"].as_str().unwrap();
    api.wait_for_status(id, "succeeded").await;
    let message = api
        .send(api.request(reqwest::Method::POST, &format!("/revisions/{id}/cancel")))
        .await
        .error(409, "revision_not_cancellable");
    assert_eq!(
        message,
        format!("revision `{id}` has status succeeded; only queued or building revisions can be cancelled")
    );
}

#[tokio::test]
async fn revisions_are_listed_newest_first_filtered_by_status_and_paged() {
    let api = slow_api();
    api.create_app(json!({"slug": "many"})).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let revision = api.deploy("many", json!({"assets": main_ts()})).await;
        ids.push(revision["id"].as_str().unwrap().to_owned());
    }
    for id in &ids[..2] {
        api.post(&format!("/revisions/{id}/cancel"), json!({}))
            .await
            .ok(200, "Revision");
    }
    let first = api.get("/apps/many/revisions?status=queued&limit=2").await;
    let link = first.next_link().expect("a second page");
    assert!(
        link.contains("status=queued") && link.contains("limit=2"),
        "{link}"
    );
    let first: Vec<Value> = first
        .list("RevisionListItem")
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(first, [ids[4].as_str(), ids[3].as_str()]);
    let second = api
        .send(api.http.get(&link).bearer_auth(api.emulator.token()))
        .await;
    assert!(second.next_link().is_none());
    let second = second.list("RevisionListItem");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0]["id"], ids[2].as_str());
    assert_eq!(second[0]["status"], "queued");
    let failed = api
        .get("/apps/many/revisions?status=failed")
        .await
        .list("RevisionListItem");
    assert_eq!(failed.len(), 2);
    assert!(api
        .get("/apps/many/revisions?status=skipped")
        .await
        .list("RevisionListItem")
        .is_empty());
    let message = api
        .get("/apps/many/revisions?status=done")
        .await
        .error(400, "invalid_query");
    assert_eq!(
        message,
        "status must be one of skipped, queued, building, succeeded, failed, not `done`"
    );
}

#[tokio::test]
async fn an_unknown_revision_is_a_404_for_every_revision_operation() {
    let api = Api::start();
    let replies = [
        api.get("/revisions/rev_missing").await,
        api.delete("/revisions/rev_missing").await,
        api.post("/revisions/rev_missing/cancel", json!({})).await,
        api.get("/revisions/rev_missing/progress").await,
    ];
    for reply in replies {
        let message = reply.error(404, "revision_not_found");
        assert_eq!(message, "revision `rev_missing` not found");
    }
}
