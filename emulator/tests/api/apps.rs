//! listApps, createApp, getApp, updateApp and deleteApp: values, validation and pagination.
//!
//! Every body is checked against `App`, `AppListItem` or `Error` of the spec.

use deno_deploy_emulator::EmulatorConfig;
use serde_json::{json, Value};

use crate::support::{main_ts, Api};

fn keys(vars: &Value) -> Vec<String> {
    vars.as_array()
        .unwrap()
        .iter()
        .map(|v| v["key"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn creating_an_app_returns_every_field_given() {
    let api = Api::start();
    let app = api
        .create_app(json!({
            "slug": "my-app",
            "labels": {"env": "prod", "team": "web"},
            "layers": [{"id": "shared-config"}, {"id": "6f1c2a1e-1111-4222-8333-944445555666"}],
            "env_vars": [{"key": "PORT", "value": "8000"}, {"key": "TOKEN", "value": "s3cret", "secret": true, "contexts": ["production"]}],
            "config": {"install": "deno install", "runtime": {"type": "dynamic", "entrypoint": "main.ts", "args": ["--x"]}}
        }))
        .await;
    assert_eq!(app["slug"], "my-app");
    assert_eq!(app["labels"], json!({"env": "prod", "team": "web"}));
    assert_eq!(
        app["layers"],
        json!([{"id": "shared-config", "slug": "shared-config"}, {"id": "6f1c2a1e-1111-4222-8333-944445555666"}])
    );
    assert_eq!(keys(&app["env_vars"]), ["PORT", "TOKEN"]);
    assert_eq!(app["env_vars"][0]["value"], "8000");
    assert_eq!(app["env_vars"][0]["secret"], false);
    assert_eq!(app["env_vars"][1]["contexts"], json!(["production"]));
    assert!(app["env_vars"][0]["id"]
        .as_str()
        .unwrap()
        .starts_with("env_"));
    assert_eq!(app["config"]["runtime"]["args"], json!(["--x"]));
    assert_eq!(app["created_at"], app["updated_at"]);
    uuid_of(&app);
}

fn uuid_of(app: &Value) -> String {
    let id = app["id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "{id}");
    id.to_owned()
}

#[tokio::test]
async fn an_app_without_a_slug_gets_a_generated_one() {
    let api = Api::start();
    let first = api.create_app(json!({})).await;
    let second = api.create_app(json!({})).await;
    for app in [&first, &second] {
        let slug = app["slug"].as_str().unwrap();
        assert!(
            slug.len() >= 3 && slug.starts_with(|c: char| c.is_ascii_lowercase()),
            "{slug}"
        );
    }
    assert_ne!(first["slug"], second["slug"]);
    assert_ne!(first["id"], second["id"]);
}

#[tokio::test]
async fn a_taken_slug_is_a_409() {
    let api = Api::start();
    api.create_app(json!({"slug": "taken"})).await;
    let message = api
        .post("/apps", json!({"slug": "taken"}))
        .await
        .error(409, "slug_taken");
    assert!(message.contains("taken"), "{message}");
}

#[tokio::test]
async fn an_invalid_slug_is_a_400_that_names_the_pattern() {
    let api = Api::start();
    for slug in ["ab", "Upper", "1abc", "with_underscore", &"a".repeat(64)] {
        let reply = api.post("/apps", json!({"slug": slug})).await;
        assert_eq!(
            reply.body,
            json!({"error": "slug must match ^[a-z][a-z0-9-]{2,62}$", "code": "invalid_slug"})
        );
        reply.error(400, "invalid_slug");
    }
}

#[tokio::test]
async fn more_than_five_labels_is_a_400() {
    let api = Api::start();
    let labels: serde_json::Map<String, Value> =
        (0..6).map(|i| (format!("k{i}"), json!("v"))).collect();
    let message = api
        .post("/apps", json!({"labels": labels}))
        .await
        .error(400, "invalid_labels");
    assert_eq!(message, "labels must have at most 5 entries, got 6");
}

#[tokio::test]
async fn env_vars_are_checked_field_by_field() {
    let api = Api::start();
    let cases = [
        (
            json!([{"key": "9LIVES", "value": "x"}]),
            "env_vars[0].key must match ^[A-Za-z_][A-Za-z0-9_]*$",
        ),
        (
            json!([{"key": "K".repeat(129), "value": "x"}]),
            "env_vars[0].key must be at most 128 characters long",
        ),
        (
            json!([{"key": "K", "value": "x".repeat(4097)}]),
            "env_vars[0].value must be at most 4096 characters long",
        ),
        (json!([{"key": "K"}]), "env_vars[0].value is required"),
        (json!([{"value": "v"}]), "env_vars[0].key is required"),
        (
            json!([{"key": "K", "value": 1}]),
            "env_vars[0].value must be a string, not integer",
        ),
        (
            json!([{"key": "K", "value": "v", "secret": "yes"}]),
            "env_vars[0].secret must be a boolean, not string",
        ),
        (
            json!([{"key": "K", "value": "v", "contexts": "some"}]),
            "env_vars[0].contexts must be \"all\" or an array of context names",
        ),
        (
            json!([{"key": "K", "value": "a"}, {"key": "K", "value": "b"}]),
            "env_vars[1].key `K` repeats env_vars[0].key; keys must be unique",
        ),
        (json!({"K": "v"}), "env_vars must be an array, not object"),
    ];
    for (env_vars, expected) in cases {
        let message = api
            .post("/apps", json!({"env_vars": env_vars}))
            .await
            .error(400, "invalid_env_var");
        assert_eq!(message, expected);
    }
    let at_limit = json!([{"key": "K".repeat(128), "value": "x".repeat(4096)}]);
    api.create_app(json!({"env_vars": at_limit})).await;
}

#[tokio::test]
async fn malformed_or_mistyped_bodies_are_400s_that_name_the_field() {
    let api = Api::start();
    let raw = |body: &'static str| {
        api.request(reqwest::Method::POST, "/apps")
            .header("content-type", "application/json")
            .body(body)
    };
    let message = api.send(raw("{\"slug\":")).await.error(400, "invalid_json");
    assert!(
        message.starts_with("request body is not valid JSON"),
        "{message}"
    );
    api.send(raw("[]")).await.error(400, "invalid_body");
    api.send(raw("")).await.error(400, "missing_body");
    let cases = [
        (
            json!({"slug": 5}),
            "invalid_slug",
            "slug must be a string, not integer",
        ),
        (
            json!({"labels": ["a"]}),
            "invalid_labels",
            "labels must be an object, not array",
        ),
        (
            json!({"labels": {"a": null}}),
            "invalid_labels",
            "labels.a must be a string, not null",
        ),
        (
            json!({"layers": [{}]}),
            "invalid_layers",
            "layers[0].id is required",
        ),
        (
            json!({"layers": [{"id": "Not A Slug"}]}),
            "invalid_layers",
            "layers[0].id must be a layer UUID or a slug matching ^[a-z][a-z0-9-]{2,62}$",
        ),
        (
            json!({"config": {"runtime": {"type": "serverless"}}}),
            "invalid_config",
            "config.runtime.type must be one of dynamic, static, not `serverless`",
        ),
        (
            json!({"config": {"runtime": {}}}),
            "invalid_config",
            "config.runtime.type is required",
        ),
        (
            json!({"config": {"crons": [{"name": "n", "schedule": "* * * * *"}]}}),
            "invalid_config",
            "config.crons[0].handler is required",
        ),
        (
            json!({"config": {"runtime": {"type": "static", "spa": "yes"}}}),
            "invalid_config",
            "config.runtime.spa must be a boolean, not string",
        ),
    ];
    for (body, code, expected) in cases {
        let message = api.post("/apps", body).await.error(400, code);
        assert_eq!(message, expected);
    }
}

#[tokio::test]
async fn an_app_is_found_by_id_and_by_slug() {
    let api = Api::start();
    let app = api.create_app(json!({"slug": "find-me"})).await;
    let id = uuid_of(&app);
    let by_id = api.get(&format!("/apps/{id}")).await.ok(200, "App");
    let by_slug = api.get("/apps/find-me").await.ok(200, "App");
    assert_eq!(by_id, app);
    assert_eq!(by_slug, app);
}

#[tokio::test]
async fn an_unknown_app_is_a_404_for_every_app_operation() {
    let api = Api::start();
    let missing = "no-such-app";
    let replies = [
        api.get(&format!("/apps/{missing}")).await,
        api.patch(&format!("/apps/{missing}"), json!({})).await,
        api.delete(&format!("/apps/{missing}")).await,
        api.post(
            &format!("/apps/{missing}/deploy"),
            json!({"assets": main_ts()}),
        )
        .await,
        api.get(&format!("/apps/{missing}/revisions")).await,
        api.get(&format!("/apps/{missing}/logs?start=2025-01-01T00:00:00Z"))
            .await,
        api.get("/apps/2b8a9c3e-0000-4000-8000-000000000000").await,
    ];
    for reply in replies {
        let message = reply.error(404, "app_not_found");
        assert!(message.contains("not found"), "{message}");
    }
}

#[tokio::test]
async fn secret_values_are_never_returned() {
    let api = Api::start();
    let app = api
        .create_app(json!({"slug": "secrets", "env_vars": [{"key": "API_KEY", "value": "hunter2", "secret": true}]}))
        .await;
    let fetched = api.get("/apps/secrets").await.ok(200, "App");
    let patched = api
        .patch(
            "/apps/secrets",
            json!({"env_vars": [{"key": "API_KEY", "value": "hunter3"}]}),
        )
        .await
        .ok(200, "App");
    let revision = api
        .deploy("secrets", json!({"assets": main_ts(), "env_vars": [{"key": "OTHER", "value": "x", "secret": true}]}))
        .await;
    for body in [&app, &fetched, &patched, &revision] {
        assert!(!body.to_string().contains("hunter"), "{body}");
        for var in body["env_vars"].as_array().unwrap() {
            assert_eq!(var["secret"], true);
            assert!(var.get("value").is_none(), "{var}");
        }
    }
}

#[tokio::test]
async fn a_patch_replaces_labels_layers_and_config_and_keeps_the_rest() {
    let api = Api::start();
    let app = api
        .create_app(json!({"slug": "patch-me", "labels": {"a": "1", "b": "2"}, "layers": [{"id": "one-layer"}],
            "env_vars": [{"key": "KEEP", "value": "k"}], "config": {"framework": "fresh"}}))
        .await;
    let patched = api
        .patch("/apps/patch-me", json!({"labels": {"c": "3"}, "layers": [{"id": "two-layer"}], "config": {"build": "deno task build"}}))
        .await
        .ok(200, "App");
    assert_eq!(patched["labels"], json!({"c": "3"}));
    assert_eq!(
        patched["layers"],
        json!([{"id": "two-layer", "slug": "two-layer"}])
    );
    assert_eq!(patched["config"], json!({"build": "deno task build"}));
    assert_eq!(patched["env_vars"], app["env_vars"]);
    assert_eq!(patched["id"], app["id"]);
    assert_eq!(patched["created_at"], app["created_at"]);
    assert!(patched["updated_at"].as_str() > app["updated_at"].as_str());
    let renamed = api
        .patch("/apps/patch-me", json!({"slug": "renamed"}))
        .await
        .ok(200, "App");
    assert_eq!(renamed["slug"], "renamed");
    api.get("/apps/patch-me").await.error(404, "app_not_found");
    api.get("/apps/renamed").await.ok(200, "App");
}

#[tokio::test]
async fn a_patch_deep_merges_env_vars_by_id_and_by_key() {
    let api = Api::start();
    let app = api
        .create_app(json!({"slug": "merge", "env_vars": [
            {"key": "A", "value": "1"}, {"key": "B", "value": "2", "secret": true}, {"key": "C", "value": "3"}]}))
        .await;
    let ids: Vec<Value> = app["env_vars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].clone())
        .collect();
    let patched = api
        .patch(
            "/apps/merge",
            json!({"env_vars": [
                {"id": ids[0], "value": "10"},
                {"id": ids[1], "contexts": ["preview"]},
                {"key": "C", "value": null},
                {"key": "D", "value": "4"},
                {"key": "A", "secret": true}
            ]}),
        )
        .await
        .ok(200, "App");
    let vars = patched["env_vars"].as_array().unwrap();
    assert_eq!(keys(&patched["env_vars"]), ["A", "B", "D"]);
    assert_eq!(vars[0]["id"], ids[0]);
    assert_eq!(vars[0]["secret"], true);
    assert!(vars[0].get("value").is_none());
    assert_eq!(vars[1]["id"], ids[1]);
    assert_eq!(vars[1]["contexts"], json!(["preview"]));
    assert_eq!(vars[1]["secret"], true);
    assert_eq!(vars[2]["value"], "4");
    assert_eq!(vars[2]["contexts"], "all");
    let revealed = api
        .patch(
            "/apps/merge",
            json!({"env_vars": [{"id": ids[0], "secret": false}]}),
        )
        .await
        .ok(200, "App");
    assert_eq!(
        revealed["env_vars"][0]["value"], "10",
        "the update kept the value"
    );
}

#[tokio::test]
async fn an_env_var_update_with_an_unknown_id_or_key_or_nothing_to_apply_is_a_400() {
    let api = Api::start();
    api.create_app(json!({"slug": "unknown-id", "env_vars": [{"key": "A", "value": "1"}]}))
        .await;
    let message = api
        .patch(
            "/apps/unknown-id",
            json!({"env_vars": [{"id": "env_nope", "value": "x"}]}),
        )
        .await
        .error(400, "unknown_env_var");
    assert_eq!(
        message,
        "env_vars[0].id: the app has no environment variable with id `env_nope`"
    );
    let message = api
        .patch(
            "/apps/unknown-id",
            json!({"env_vars": [{"key": "NOPE", "value": null}]}),
        )
        .await
        .error(400, "unknown_env_var");
    assert_eq!(
        message,
        "env_vars[0].key: the app has no environment variable with key `NOPE` to delete"
    );
    let message = api
        .patch("/apps/unknown-id", json!({"env_vars": [{"value": "x"}]}))
        .await
        .error(400, "invalid_env_var");
    assert_eq!(
        message,
        "env_vars[0] needs an id (to change a variable) or a key (to set one)"
    );
    let message = api
        .patch("/apps/unknown-id", json!({"env_vars": [{"key": "NEW"}]}))
        .await
        .error(400, "invalid_env_var");
    assert_eq!(
        message,
        "env_vars[0].value is required to create variable `NEW`"
    );
    let message = api
        .patch(
            "/apps/unknown-id",
            json!({"env_vars": [{"key": "B", "value": 5}]}),
        )
        .await
        .error(400, "invalid_env_var");
    assert_eq!(message, "env_vars[0].value must be a string, not integer");
}

#[tokio::test]
async fn a_failed_patch_changes_nothing() {
    let api = Api::start();
    let app = api
        .create_app(json!({"slug": "atomic", "labels": {"a": "1"}, "env_vars": [{"key": "A", "value": "1"}]}))
        .await;
    api.create_app(json!({"slug": "other-app"})).await;
    api.patch("/apps/atomic", json!({"labels": {"b": "2"}, "env_vars": [{"key": "A", "value": "2"}, {"id": "env_missing", "value": "x"}]}))
        .await
        .error(400, "unknown_env_var");
    api.patch(
        "/apps/atomic",
        json!({"labels": {"b": "2"}, "slug": "other-app"}),
    )
    .await
    .error(409, "slug_taken");
    let after = api.get("/apps/atomic").await.ok(200, "App");
    assert_eq!(after, app);
}

#[tokio::test]
async fn an_empty_patch_changes_nothing_but_updated_at() {
    let api = Api::start();
    let app = api
        .create_app(json!({"slug": "empty-patch", "labels": {"a": "1"}}))
        .await;
    let reply = api
        .send(api.request(reqwest::Method::PATCH, "/apps/empty-patch"))
        .await
        .ok(200, "App");
    assert_eq!(reply["labels"], app["labels"]);
    assert_eq!(reply["slug"], "empty-patch");
    let keep_slug = api
        .patch("/apps/empty-patch", json!({"slug": "empty-patch"}))
        .await
        .ok(200, "App");
    assert_eq!(
        keep_slug["slug"], "empty-patch",
        "an app's own slug is not taken"
    );
}

#[tokio::test]
async fn deleting_an_app_deletes_its_revisions() {
    let api = Api::start();
    api.create_app(json!({"slug": "doomed"})).await;
    let revision = api.deploy("doomed", json!({"assets": main_ts()})).await;
    let id = revision["id"].as_str().unwrap();
    api.wait_for_status(id, "succeeded").await;
    let reply = api.delete("/apps/doomed").await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.text, "");
    api.get("/apps/doomed").await.error(404, "app_not_found");
    api.get(&format!("/revisions/{id}"))
        .await
        .error(404, "revision_not_found");
    api.delete("/apps/doomed").await.error(404, "app_not_found");
    assert!(api.get("/apps").await.list("AppListItem").is_empty());
}

#[tokio::test]
async fn apps_are_listed_newest_first_in_pages_linked_by_the_link_header() {
    let api = Api::start();
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(api.create_app(json!({"slug": format!("app-{i}")})).await);
    }
    let first = api.get("/apps?limit=2").await;
    let raw = first.header("link");
    assert!(
        raw.starts_with(&format!(
            "<{}/apps?limit=2&cursor=",
            api.emulator.base_url()
        )),
        "the next link is an absolute URL: {raw}"
    );
    let mut link = first.next_link().expect("a next page");
    assert!(link.starts_with(&api.url("/apps?")), "{link}");
    assert!(link.contains("limit=2"), "{link}");
    assert!(link.contains("cursor="), "{link}");
    let mut slugs: Vec<Value> = first
        .list("AppListItem")
        .iter()
        .map(|a| a["slug"].clone())
        .collect();
    let mut pages = 1;
    loop {
        let page = api
            .send(api.http.get(&link).bearer_auth(api.emulator.token()))
            .await;
        let next = page.next_link();
        let items = page.list("AppListItem");
        assert!(items.len() <= 2);
        slugs.extend(items.iter().map(|a| a["slug"].clone()));
        pages += 1;
        match next {
            Some(next) => link = next,
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(slugs, ["app-4", "app-3", "app-2", "app-1", "app-0"]);
    let all = api.get("/apps").await;
    assert!(all.next_link().is_none(), "no Link on the last page");
    let items = all.list("AppListItem");
    assert_eq!(items.len(), 5);
    assert_eq!(items[0]["id"], created[4]["id"]);
    assert_eq!(items[0]["created_at"], created[4]["created_at"]);
    assert!(
        items[0].get("env_vars").is_none(),
        "list items are summaries"
    );
}

#[tokio::test]
async fn behind_a_proxy_next_links_point_at_the_public_url() {
    let api = Api::with(EmulatorConfig::default().public_url("http://127.0.0.1:4010/"));
    for i in 0..3 {
        api.create_app(json!({"slug": format!("proxied-{i}")}))
            .await;
    }
    let first = api.get("/apps?limit=2").await;
    let raw = first.header("link");
    assert!(
        raw.starts_with("<http://127.0.0.1:4010/apps?limit=2&cursor="),
        "{raw}"
    );
    assert!(raw.ends_with(">; rel=\"next\""), "{raw}");
}

#[tokio::test]
async fn apps_filter_by_labels_and_the_next_link_keeps_the_filter() {
    let api = Api::start();
    for (slug, env, team) in [
        ("web-a", "prod", "web"),
        ("web-b", "prod", "web"),
        ("web-c", "prod", "web"),
        ("api-a", "prod", "api"),
        ("web-dev", "dev", "web"),
    ] {
        api.create_app(json!({"slug": slug, "labels": {"env": env, "team": team}}))
            .await;
    }
    let both = api
        .get("/apps?labels%5Benv%5D=prod&labels%5Bteam%5D=web&limit=2")
        .await;
    let link = both.next_link().expect("a second page");
    assert!(link.contains("labels%5Benv%5D=prod"), "{link}");
    assert!(link.contains("labels%5Bteam%5D=web"), "{link}");
    assert!(link.contains("limit=2"), "{link}");
    let first: Vec<Value> = both
        .list("AppListItem")
        .iter()
        .map(|a| a["slug"].clone())
        .collect();
    assert_eq!(first, ["web-c", "web-b"]);
    let second = api
        .send(api.http.get(&link).bearer_auth(api.emulator.token()))
        .await;
    assert!(second.next_link().is_none());
    let second: Vec<Value> = second
        .list("AppListItem")
        .iter()
        .map(|a| a["slug"].clone())
        .collect();
    assert_eq!(second, ["web-a"]);
    let unencoded: Vec<Value> = api
        .get("/apps?labels[env]=dev")
        .await
        .list("AppListItem")
        .iter()
        .map(|a| a["slug"].clone())
        .collect();
    assert_eq!(unencoded, ["web-dev"]);
    assert!(api
        .get("/apps?labels[env]=staging")
        .await
        .list("AppListItem")
        .is_empty());
    api.get("/apps?labels=env")
        .await
        .error(400, "invalid_query");
}

#[tokio::test]
async fn apps_filter_by_layer() {
    let api = Api::start();
    api.create_app(json!({"slug": "with-layer", "layers": [{"id": "db-layer"}]}))
        .await;
    api.create_app(json!({"slug": "with-uuid-layer", "layers": [{"id": "0d6e4c77-5c2e-4f7a-9d55-3f1b2c3d4e5f"}]})).await;
    api.create_app(json!({"slug": "no-layer"})).await;
    let by_slug = api.get("/apps?layer=db-layer").await.list("AppListItem");
    assert_eq!(by_slug.len(), 1);
    assert_eq!(by_slug[0]["slug"], "with-layer");
    let by_id = api
        .get("/apps?layer=0d6e4c77-5c2e-4f7a-9d55-3f1b2c3d4e5f")
        .await
        .list("AppListItem");
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[0]["slug"], "with-uuid-layer");
}

#[tokio::test]
async fn a_bad_cursor_is_a_400() {
    let api = Api::start();
    api.create_app(json!({"slug": "cursor-app"})).await;
    for cursor in ["garbage!", "bm90LWEtY3Vyc29y", ""] {
        let message = api
            .get(&format!("/apps?cursor={cursor}"))
            .await
            .error(400, "invalid_cursor");
        assert!(message.contains("cursor"), "{message}");
    }
    for i in 0..3 {
        let revision = api
            .deploy(
                "cursor-app",
                json!({"assets": main_ts(), "production": false}),
            )
            .await;
        assert_eq!(revision["status"], "queued", "deploy {i}");
    }
    let page = api.get("/apps/cursor-app/revisions?limit=1").await;
    let link = page.next_link().unwrap();
    let cursor = link.split("cursor=").nth(1).unwrap();
    api.get(&format!("/apps?cursor={cursor}"))
        .await
        .error(400, "invalid_cursor");
}

#[tokio::test]
async fn a_limit_outside_its_range_is_a_400() {
    let api = Api::start();
    api.create_app(json!({"slug": "limits"})).await;
    for limit in ["0", "101", "-1", "ten", "1.5"] {
        let message = api
            .get(&format!("/apps?limit={limit}"))
            .await
            .error(400, "invalid_limit");
        assert_eq!(
            message,
            format!("limit must be an integer from 1 to 100, got `{limit}`")
        );
        api.get(&format!("/apps/limits/revisions?limit={limit}"))
            .await
            .error(400, "invalid_limit");
    }
    for limit in ["1", "100"] {
        api.get(&format!("/apps?limit={limit}"))
            .await
            .list("AppListItem");
    }
    let message = api
        .get("/apps/limits/logs?start=2025-01-01T00:00:00Z&end=2025-01-02T00:00:00Z&limit=1001")
        .await
        .error(400, "invalid_limit");
    assert_eq!(
        message,
        "limit must be an integer from 1 to 1000, got `1001`"
    );
    api.get("/apps/limits/logs?start=2025-01-01T00:00:00Z&end=2025-01-02T00:00:00Z&limit=1000")
        .await
        .ok(200, "RuntimeLogsResponse");
}
