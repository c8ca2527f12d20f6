//! Every operation through the client against the emulator, error paths included.

mod support;

use std::time::Duration;

use deno_deploy::{
    ext::{AppUpdate, Contexts, EnvVarPatch, StreamFormat},
    prelude::*,
    types,
};
use deno_deploy_emulator::{Emulator, EmulatorConfig};
use futures::{StreamExt, TryStreamExt};
use support::fixtures::{create_app, deploy_request, hello_asset, hello_deploy};

fn start() -> (Emulator, Client) {
    let emulator =
        Emulator::start_with(EmulatorConfig::default().build_delay(Duration::from_millis(5)))
            .expect("emulator starts");
    let client = Client::builder()
        .base_url(emulator.base_url())
        .token(emulator.token())
        .build()
        .expect("client builds");
    (emulator, client)
}

fn api_status(error: Error) -> (u16, Option<String>) {
    match error {
        Error::Api(api) => (api.status.as_u16(), api.code),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_app_is_created_read_by_id_and_slug_updated_and_deleted() {
    let (_emulator, client) = start();
    let app = client
        .create_app()
        .body(
            types::CreateAppRequest::builder()
                .slug("shop-front".parse::<types::CreateAppRequestSlug>().unwrap())
                .labels([("env".to_owned(), "prod".to_owned())])
                .env_vars(vec![
                    types::EnvVarInput::builder()
                        .key("PLAIN")
                        .value("visible")
                        .try_into()
                        .unwrap(),
                    types::EnvVarInput::builder()
                        .key("TOKEN")
                        .value("hidden")
                        .secret(true)
                        .try_into()
                        .unwrap(),
                ]),
        )
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(app.slug.as_str(), "shop-front");
    assert_eq!(app.labels.get("env").map(String::as_str), Some("prod"));
    let secret = app
        .env_vars
        .iter()
        .find(|v| v.key.as_str() == "TOKEN")
        .unwrap();
    assert_eq!(secret.secret, Some(true));
    assert!(secret.value.is_none(), "secret values are never returned");

    let by_id = client
        .get_app()
        .app(app.id.to_string())
        .send()
        .await
        .unwrap()
        .into_inner();
    let by_slug = client
        .get_app()
        .app("shop-front")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_id.id, app.id);
    assert_eq!(by_slug.id, app.id);

    let plain_id = app
        .env_vars
        .iter()
        .find(|v| v.key.as_str() == "PLAIN")
        .unwrap()
        .id
        .clone();
    let updated = client
        .update_app()
        .app("shop-front")
        .body(
            AppUpdate::new()
                .labels([("env", "staging"), ("team", "web")])
                .env_var(EnvVarPatch::delete(plain_id))
                .env_var(EnvVarPatch::set("NEW", "v").contexts(Contexts::only(["preview"]))),
        )
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.labels.len(), 2);
    assert_eq!(updated.labels["env"], "staging");
    let keys: Vec<&str> = updated.env_vars.iter().map(|v| v.key.as_str()).collect();
    assert!(
        keys.contains(&"NEW") && keys.contains(&"TOKEN") && !keys.contains(&"PLAIN"),
        "{keys:?}"
    );

    let cleared = client
        .update_app()
        .app("shop-front")
        .body(AppUpdate::new().clear_labels())
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(cleared.labels.is_empty());

    let deleted = client.delete_app().app("shop-front").send().await.unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    let gone = client.get_app().app("shop-front").send().await.unwrap_err();
    assert_eq!(api_status(gone.into()).0, 404);
}

#[tokio::test]
async fn a_taken_slug_is_a_409_and_an_omitted_slug_is_generated() {
    let (_emulator, client) = start();
    create_app(&client, "taken-slug").await;
    let again = client
        .create_app()
        .body(
            types::CreateAppRequest::builder()
                .slug("taken-slug".parse::<types::CreateAppRequestSlug>().unwrap()),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(api_status(again.into()).0, 409);

    let generated = client
        .create_app()
        .body(types::CreateAppRequest::builder())
        .send()
        .await
        .unwrap()
        .into_inner();
    let slug = generated.slug.as_str();
    let pattern = regress::Regex::new("^[a-z][a-z0-9-]{2,62}$").unwrap();
    assert!(pattern.find(slug).is_some(), "{slug}");
}

/// The error a refused call ends with, whatever it would have returned.
fn refused<T: std::fmt::Debug>(result: Result<T, deno_deploy::RawError>) -> Error {
    Error::from(result.expect_err("the call is refused"))
}

#[tokio::test]
async fn invalid_input_is_refused_before_anything_is_sent() {
    let (emulator, client) = start();
    let before = emulator.request_count();

    // The generated newtypes carry the spec's patterns: a bad slug or key cannot even be built.
    let bad_slug = "Bad_Slug"
        .parse::<types::CreateAppRequestSlug>()
        .unwrap_err();
    assert!(Error::from(bad_slug)
        .to_string()
        .contains("^[a-z][a-z0-9-]{2,62}$"));
    assert!("9LIVES".parse::<types::EnvVarInputKey>().is_err());
    assert!("K".repeat(129).parse::<types::EnvVarInputKey>().is_err());
    assert!("v".repeat(4097).parse::<types::EnvVarInputValue>().is_err());

    let six_labels = || -> std::collections::HashMap<String, String> {
        (0..6).map(|i| (format!("k{i}"), "v".into())).collect()
    };
    let now = chrono::Utc::now();
    let an_hour_ago = now - chrono::Duration::hours(1);
    // What the newtypes cannot stop (an update's plain strings, numbers, missing or
    // inconsistent parameters) the request validator does: (case, field, rule part, error).
    let cases: Vec<(&str, &str, &str, Error)> = vec![
        (
            "a rename to a slug off its pattern",
            "slug",
            "^[a-z][a-z0-9-]{2,62}$",
            refused(
                client
                    .update_app()
                    .app("x")
                    .body(AppUpdate::new().slug("Bad_Slug"))
                    .send()
                    .await,
            ),
        ),
        (
            "six labels on a new app",
            "labels",
            "at most 5",
            refused(
                client
                    .create_app()
                    .body(types::CreateAppRequest::builder().labels(six_labels()))
                    .send()
                    .await,
            ),
        ),
        (
            "six labels in an update",
            "labels",
            "at most 5",
            refused(
                client
                    .update_app()
                    .app("x")
                    .body(AppUpdate::new().labels(six_labels()))
                    .send()
                    .await,
            ),
        ),
        (
            "an env var key off its pattern",
            "env_vars[0].key",
            "must match ^[A-Za-z_][A-Za-z0-9_]*$",
            refused(
                client
                    .update_app()
                    .app("x")
                    .body(AppUpdate::new().env_var(EnvVarPatch::set("9LIVES", "v")))
                    .send()
                    .await,
            ),
        ),
        (
            "an env var key of 129 characters",
            "env_vars[1].key",
            "128",
            refused(
                client
                    .update_app()
                    .app("x")
                    .body(
                        AppUpdate::new()
                            .env_var(EnvVarPatch::set("OK", "v"))
                            .env_var(EnvVarPatch::set("K".repeat(129), "v")),
                    )
                    .send()
                    .await,
            ),
        ),
        (
            "an env var value of 4097 characters",
            "env_vars[0].value",
            "4096",
            refused(
                client
                    .update_app()
                    .app("x")
                    .body(AppUpdate::new().env_var(EnvVarPatch::set("BIG", "v".repeat(4097))))
                    .send()
                    .await,
            ),
        ),
        (
            "an app list limit of 0",
            "limit",
            "must be at least 1",
            refused(client.list_apps().limit(0u64).send().await),
        ),
        (
            "an app list limit of 101",
            "limit",
            "100",
            refused(client.list_apps().limit(101u64).send().await),
        ),
        (
            "a revision list limit of 101",
            "limit",
            "100",
            refused(client.list_revisions().app("x").limit(101u64).send().await),
        ),
        (
            "a log limit of 0",
            "limit",
            "must be at least 1",
            refused(
                client
                    .get_app_logs()
                    .app("x")
                    .start(an_hour_ago)
                    .limit(0u64)
                    .send()
                    .await,
            ),
        ),
        (
            "a log limit of 1001",
            "limit",
            "1000",
            refused(
                client
                    .get_app_logs()
                    .app("x")
                    .start(an_hour_ago)
                    .limit(1001u64)
                    .send()
                    .await,
            ),
        ),
        (
            "a log query without start",
            "start",
            "required",
            refused(client.get_app_logs().app("x").send().await),
        ),
        (
            "a log query whose end is before its start",
            "end",
            "before start",
            refused(
                client
                    .get_app_logs()
                    .app("x")
                    .start(now)
                    .end(an_hour_ago)
                    .send()
                    .await,
            ),
        ),
    ];
    for (case, expected_field, rule_part, error) in cases {
        match error {
            Error::InvalidInput { field, rule } => {
                assert_eq!(field, expected_field, "{case}: {rule}");
                assert!(rule.contains(rule_part), "{case}: {rule}");
            }
            other => panic!("{case}: expected InvalidInput, got {other:?}"),
        }
    }
    assert_eq!(
        emulator.request_count(),
        before,
        "nothing reached the server"
    );
}

#[tokio::test]
async fn an_empty_path_id_is_refused_by_every_operation_before_anything_is_sent() {
    let (emulator, client) = start();
    let now = chrono::Utc::now();
    let cases: Vec<(&str, &str, Error)> = vec![
        (
            "getApp",
            "app",
            refused(client.get_app().app("").send().await),
        ),
        (
            "deleteApp",
            "app",
            refused(client.delete_app().app("").send().await),
        ),
        (
            "updateApp",
            "app",
            refused(
                client
                    .update_app()
                    .app("")
                    .body(AppUpdate::new())
                    .send()
                    .await,
            ),
        ),
        (
            "deployApp",
            "app",
            refused(
                client
                    .deploy_app()
                    .app("")
                    .body(hello_deploy())
                    .send()
                    .await,
            ),
        ),
        (
            "listRevisions",
            "app",
            refused(client.list_revisions().app("").send().await),
        ),
        (
            "getAppLogs",
            "app",
            refused(client.get_app_logs().app("").start(now).send().await),
        ),
        (
            "getRevision",
            "revision",
            refused(client.get_revision().revision("").send().await),
        ),
        (
            "deleteRevision",
            "revision",
            refused(client.delete_revision().revision("").send().await),
        ),
        (
            "cancelRevision",
            "revision",
            refused(client.cancel_revision().revision("").send().await),
        ),
        (
            "wait_for_revision",
            "revision",
            client.wait_for_revision("").send().await.unwrap_err(),
        ),
        (
            "revision_progress",
            "revision",
            client
                .revision_progress("")
                .stream()
                .try_collect::<Vec<_>>()
                .await
                .unwrap_err(),
        ),
        (
            "follow_logs",
            "app",
            client
                .follow_logs("", now)
                .stream()
                .try_collect::<Vec<_>>()
                .await
                .unwrap_err(),
        ),
    ];
    for (case, expected_field, error) in cases {
        match error {
            Error::InvalidInput { field, rule } => {
                assert_eq!(
                    (field.as_str(), rule.as_str()),
                    (expected_field, "must not be empty"),
                    "{case}"
                );
            }
            other => panic!("{case}: expected InvalidInput, got {other:?}"),
        }
    }
    assert_eq!(emulator.request_count(), 0, "nothing reached the server");
}

#[tokio::test]
async fn the_emulator_refuses_what_the_client_would_not_send() {
    let (emulator, _) = start();
    // A raw client without validation: the server's 400 names the field.
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{}/apps", emulator.base_url()))
        .bearer_auth(emulator.token())
        .json(&serde_json::json!({"slug": "NO"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: types::Error = response.json().await.unwrap();
    assert!(body.error.contains("slug"), "{}", body.error);

    let unauthorized = Client::builder()
        .base_url(emulator.base_url())
        .token("not_a_ddo_token")
        .build()
        .unwrap();
    let err = unauthorized.list_apps().send().await.unwrap_err();
    assert_eq!(api_status(err.into()).0, 401);
}

#[tokio::test]
async fn a_deploy_builds_to_succeeded_and_serves_production() {
    let (_emulator, client) = start();
    create_app(&client, "deploy-me").await;
    let revision = client
        .deploy_app()
        .app("deploy-me")
        .body(hello_deploy())
        .send()
        .await
        .unwrap();
    assert_eq!(revision.status().as_u16(), 202);
    let revision = revision.into_inner();
    assert_eq!(revision.status, types::RevisionStatus::Queued);

    let stages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = stages.clone();
    let done = client
        .wait_for_revision(&revision.id)
        .timeout(Duration::from_secs(20))
        .on_event(move |event| seen.lock().unwrap().push(event.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status, types::RevisionStatus::Succeeded);
    assert!(done.updated_at >= done.created_at);
    let events = stages.lock().unwrap().clone();
    let succeeded: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            deno_deploy::ext::WaitEvent::Stage { stage, status } if status == "succeeded" => {
                Some(stage.to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        succeeded,
        ["queued", "preparing", "installing", "building", "deploying"],
        "{events:?}"
    );

    let fetched = client
        .get_revision()
        .revision(&revision.id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched.status, types::RevisionStatus::Succeeded);
    // Serving production: it cannot be deleted.
    let refused = client
        .delete_revision()
        .revision(&revision.id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(api_status(Error::from_raw(refused).await).0, 409);
}

#[tokio::test]
async fn a_missing_entrypoint_fails_the_revision_with_a_reason() {
    let (_emulator, client) = start();
    create_app(&client, "no-entry").await;
    let assets = [("other.ts".to_owned(), hello_asset())].into();
    let revision = client
        .deploy_app()
        .app("no-entry")
        .body(deploy_request(assets))
        .send()
        .await
        .unwrap()
        .into_inner();
    let failed = client
        .wait_for_revision(&revision.id)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap_err();
    match failed {
        Error::RevisionFailed { status, reason, .. } => {
            assert_eq!(status, "failed");
            assert!(reason.contains("main.ts"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn progress_streams_over_sse_and_ndjson_replay_a_finished_build() {
    let (_emulator, client) = start();
    create_app(&client, "progress").await;
    let revision = client
        .deploy_app()
        .app("progress")
        .body(hello_deploy())
        .send()
        .await
        .unwrap()
        .into_inner();
    for format in [StreamFormat::Sse, StreamFormat::Ndjson] {
        let reports: Vec<_> = client
            .revision_progress(&revision.id)
            .format(format)
            .stream()
            .try_collect()
            .await
            .unwrap();
        let last = reports.last().expect("at least one report");
        assert!(
            deno_deploy::ext::streams::is_finished(last),
            "{format:?}: {last:?}"
        );
    }
}

#[tokio::test]
async fn cancelling_a_queued_revision_fails_it_and_a_finished_one_is_refused() {
    let emulator =
        Emulator::start_with(EmulatorConfig::default().build_delay(Duration::from_secs(5)))
            .unwrap();
    let client = Client::builder()
        .base_url(emulator.base_url())
        .token(emulator.token())
        .build()
        .unwrap();
    create_app(&client, "cancel-me").await;
    let revision = client
        .deploy_app()
        .app("cancel-me")
        .body(hello_deploy())
        .send()
        .await
        .unwrap()
        .into_inner();
    let cancelled = client
        .cancel_revision()
        .revision(&revision.id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.status, types::RevisionStatus::Failed);
    assert!(cancelled
        .failure_reason
        .unwrap_or_default()
        .contains("cancel"));
    let again = client
        .cancel_revision()
        .revision(&revision.id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(api_status(Error::from_raw(again).await).0, 409);
    // A failed, non-serving revision can be deleted.
    let deleted = client
        .delete_revision()
        .revision(&revision.id)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    let gone = client
        .get_revision()
        .revision(&revision.id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(api_status(gone.into()).0, 404);
}

#[tokio::test]
async fn lists_are_newest_first_paginated_and_filtered() {
    let (_emulator, client) = start();
    for i in 0..7 {
        let labels = [(
            "tier".to_owned(),
            if i % 2 == 0 { "even" } else { "odd" }.to_owned(),
        )];
        client
            .create_app()
            .body(
                types::CreateAppRequest::builder()
                    .slug(
                        format!("list-{i}")
                            .parse::<types::CreateAppRequestSlug>()
                            .unwrap(),
                    )
                    .labels(labels),
            )
            .send()
            .await
            .unwrap();
    }
    let all: Vec<types::AppListItem> = client
        .list_apps()
        .limit(3)
        .stream()
        .try_collect()
        .await
        .unwrap();
    let slugs: Vec<&str> = all.iter().map(|a| a.slug.as_str()).collect();
    assert_eq!(
        slugs,
        ["list-6", "list-5", "list-4", "list-3", "list-2", "list-1", "list-0"]
    );

    let pages: Vec<_> = client
        .list_apps()
        .limit(3)
        .pages()
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let sizes: Vec<usize> = pages.iter().map(|p| p.items.len()).collect();
    assert_eq!(sizes, [3, 3, 1]);
    assert!(pages[2].next_cursor.is_none());

    let even: Vec<types::AppListItem> = client
        .list_apps()
        .label("tier", "even")
        .limit(2)
        .stream()
        .try_collect()
        .await
        .unwrap();
    let slugs: Vec<&str> = even.iter().map(|a| a.slug.as_str()).collect();
    assert_eq!(slugs, ["list-6", "list-4", "list-2", "list-0"]);

    let bad_cursor = client
        .list_apps()
        .cursor("not-a-cursor")
        .send()
        .await
        .unwrap_err();
    assert_eq!(api_status(Error::from_raw(bad_cursor).await).0, 400);
}

#[tokio::test]
async fn revisions_list_and_filter_by_status() {
    let (_emulator, client) = start();
    create_app(&client, "revs").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let revision = client
            .deploy_app()
            .app("revs")
            .body(hello_deploy())
            .send()
            .await
            .unwrap()
            .into_inner();
        client
            .wait_for_revision(&revision.id)
            .timeout(Duration::from_secs(20))
            .send()
            .await
            .unwrap();
        ids.push(revision.id);
    }
    let listed: Vec<types::RevisionListItem> = client
        .list_revisions()
        .app("revs")
        .limit(2)
        .stream()
        .try_collect()
        .await
        .unwrap();
    let listed_ids: Vec<&str> = listed.iter().map(|r| r.id.as_str()).collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed_ids, newest_first);

    let failed: Vec<types::RevisionListItem> = client
        .list_revisions()
        .app("revs")
        .status(types::ListRevisionsStatus::Failed)
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert!(failed.is_empty());
}

#[tokio::test]
async fn runtime_logs_are_queried_by_page_and_followed_live() {
    let (emulator, client) = start();
    create_app(&client, "logs").await;
    let revision = client
        .deploy_app()
        .app("logs")
        .body(hello_deploy())
        .send()
        .await
        .unwrap()
        .into_inner();
    client
        .wait_for_revision(&revision.id)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap();

    let start = chrono::Utc::now() - chrono::Duration::minutes(5);
    let end = chrono::Utc::now() + chrono::Duration::minutes(5);
    let boot: Vec<types::RuntimeLogEntry> = client
        .get_app_logs()
        .app("logs")
        .start(start)
        .end(end)
        .limit(1u64)
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert!(!boot.is_empty(), "a running revision logs at boot");
    assert!(boot
        .iter()
        .all(|e| e.revision_id.as_deref() == Some(revision.id.as_str())));
    let regions: std::collections::BTreeSet<_> =
        boot.iter().filter_map(|e| e.region.clone()).collect();
    assert_eq!(regions.len(), deno_deploy_emulator::REGIONS.len());

    for (round, format) in [StreamFormat::Sse, StreamFormat::Ndjson]
        .into_iter()
        .enumerate()
    {
        let mut live = client.follow_logs("logs", start).format(format).stream();
        // The replay from `start` comes first...
        let first = tokio::time::timeout(Duration::from_secs(10), live.next())
            .await
            .unwrap();
        assert!(first.unwrap().is_ok());
        // ...then entries produced while following, in order.
        let marker = format!("live entry of round {round}");
        for n in 0..3 {
            let entry = deno_deploy_emulator::LogEntry::new(
                deno_deploy_emulator::LogLevel::Warn,
                format!("{marker} #{n}"),
            );
            emulator.push_log("logs", entry).unwrap();
        }
        let mut live_messages = Vec::new();
        while live_messages.len() < 3 {
            let entry = tokio::time::timeout(Duration::from_secs(10), live.next())
                .await
                .unwrap();
            let entry = entry.unwrap().unwrap();
            let message = entry.message.unwrap_or_default();
            if message.starts_with(&marker) {
                assert_eq!(entry.level, Some(types::RuntimeLogEntryLevel::Warn));
                live_messages.push(message);
            }
        }
        let expected: Vec<String> = (0..3).map(|n| format!("{marker} #{n}")).collect();
        assert_eq!(live_messages, expected, "{format:?}");
    }
}
