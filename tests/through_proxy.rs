//! One pass over all twelve operations, written to run through a validating proxy: with
//! `DENO_DEPLOY_TEST_API_URL` (and `DENO_DEPLOY_TEST_TOKEN`) set, the client talks to that URL,
//! which `.ci/checkers` points at Stoplight Prism in front of the emulator binary; without, it
//! talks to an in-process emulator. Names and values stay ASCII, bodies well-formed JSON, and
//! no live stream is opened, since the proxy cannot check those (see the README's notes).

mod support;

use std::time::Duration;

use deno_deploy::{
    ext::{AppUpdate, EnvVarPatch, StreamFormat},
    prelude::*,
    types,
};
use deno_deploy_emulator::{Emulator, EmulatorConfig};
use futures::TryStreamExt;
use support::fixtures::hello_deploy;

/// How long each build stage takes in the in-process emulator; long enough to cancel a build.
const BUILD_STAGE: Duration = Duration::from_millis(300);

/// The client, and the in-process emulator when no external URL is given.
fn connect() -> (Option<Emulator>, Client) {
    if let Ok(url) = std::env::var("DENO_DEPLOY_TEST_API_URL") {
        let token = std::env::var("DENO_DEPLOY_TEST_TOKEN")
            .expect("DENO_DEPLOY_TEST_TOKEN goes with DENO_DEPLOY_TEST_API_URL");
        let client = Client::builder().base_url(url).token(token).build();
        return (None, client.expect("client builds"));
    }
    let emulator = Emulator::start_with(EmulatorConfig::default().build_delay(BUILD_STAGE))
        .expect("emulator starts");
    let client = Client::builder()
        .base_url(emulator.base_url())
        .token(emulator.token())
        .build()
        .expect("client builds");
    (Some(emulator), client)
}

/// The one-file app, labelled so its revision shows where it came from.
fn deploy_request() -> types::DeployRequest {
    types::DeployRequest {
        labels: [("via".to_owned(), "proxy".to_owned())].into(),
        ..hello_deploy()
    }
}

#[tokio::test]
async fn every_operation_once_with_answers_the_spec_allows() {
    let (_emulator, client) = connect();
    // A slug of its own, so a rerun against a long-lived server does not collide.
    let slug = format!(
        "proxied-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );

    // createApp, getApp, listApps (with the hand-written label filter).
    let app = client
        .create_app()
        .body(
            types::CreateAppRequest::builder()
                .slug(slug.parse::<types::CreateAppRequestSlug>().unwrap())
                .labels([("team".to_owned(), "checkers".to_owned())])
                .env_vars(vec![types::EnvVarInput::builder()
                    .key("GREETING")
                    .value("hello")
                    .try_into()
                    .unwrap()]),
        )
        .send()
        .await
        .expect("createApp")
        .into_inner();
    assert_eq!(app.slug.as_str(), slug);
    let fetched = client.get_app().app(&slug).send().await.expect("getApp");
    assert_eq!(fetched.id, app.id);
    let listed: Vec<types::AppListItem> = client
        .list_apps()
        .label("team", "checkers")
        .limit(1)
        .stream()
        .try_collect()
        .await
        .expect("listApps");
    assert!(listed.iter().any(|a| a.id == app.id), "{listed:?}");

    // updateApp: an explicit null deletes a variable, an empty map clears the labels.
    let greeting = app.env_vars[0].id.clone();
    let updated = client
        .update_app()
        .app(&slug)
        .body(
            AppUpdate::new()
                .env_var(EnvVarPatch::delete(greeting))
                .env_var(EnvVarPatch::set("MODE", "proxied"))
                .clear_labels(),
        )
        .send()
        .await
        .expect("updateApp")
        .into_inner();
    let keys: Vec<&str> = updated.env_vars.iter().map(|v| v.key.as_str()).collect();
    assert_eq!(keys, ["MODE"]);
    assert!(updated.labels.is_empty());

    // deployApp, then its progress stream (finite: it ends with the build), getRevision.
    let revision = client
        .deploy_app()
        .app(&slug)
        .body(deploy_request())
        .send()
        .await
        .expect("deployApp");
    assert_eq!(revision.status().as_u16(), 202);
    let revision = revision.into_inner();
    let reports: Vec<_> = client
        .revision_progress(&revision.id)
        .format(StreamFormat::Ndjson)
        .stream()
        .try_collect()
        .await
        .expect("streamRevisionProgress");
    let last = reports.last().expect("at least one progress report");
    assert!(deno_deploy::ext::streams::is_finished(last), "{last:?}");
    let built = client
        .get_revision()
        .revision(&revision.id)
        .send()
        .await
        .expect("getRevision")
        .into_inner();
    assert_eq!(built.status, types::RevisionStatus::Succeeded);

    // listRevisions, getAppLogs as a page (a bounded time range, not a live stream).
    let revisions: Vec<types::RevisionListItem> = client
        .list_revisions()
        .app(&slug)
        .status(types::ListRevisionsStatus::Succeeded)
        .stream()
        .try_collect()
        .await
        .expect("listRevisions");
    let ids: Vec<&str> = revisions.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, [revision.id.as_str()]);
    let start = chrono::Utc::now() - chrono::Duration::minutes(5);
    let end = chrono::Utc::now() + chrono::Duration::minutes(5);
    let logs: Vec<types::RuntimeLogEntry> = client
        .get_app_logs()
        .app(&slug)
        .start(start)
        .end(end)
        .stream()
        .try_collect()
        .await
        .expect("getAppLogs");
    assert!(
        logs.iter()
            .all(|e| e.revision_id.as_deref() == Some(revision.id.as_str())),
        "{logs:?}"
    );

    // cancelRevision on a second build still under way, then deleteRevision of it (a
    // cancelled revision serves nothing), and deleteApp.
    let second = client
        .deploy_app()
        .app(&slug)
        .body(deploy_request())
        .send()
        .await
        .expect("second deployApp")
        .into_inner();
    let cancelled = client
        .cancel_revision()
        .revision(&second.id)
        .send()
        .await
        .expect("cancelRevision")
        .into_inner();
    assert_eq!(cancelled.status, types::RevisionStatus::Failed);
    let deleted = client
        .delete_revision()
        .revision(&second.id)
        .send()
        .await
        .expect("deleteRevision");
    assert_eq!(deleted.status().as_u16(), 204);

    // A third build, listed one per page: the next page's `Link` works through the proxy.
    let third = client
        .deploy_app()
        .app(&slug)
        .body(deploy_request())
        .send()
        .await
        .expect("third deployApp")
        .into_inner();
    let pages: Vec<_> = client
        .list_revisions()
        .app(&slug)
        .limit(1)
        .pages()
        .try_collect::<Vec<_>>()
        .await
        .expect("listRevisions, page by page");
    let ids: Vec<&str> = pages
        .iter()
        .flat_map(|p| p.items.iter().map(|r| r.id.as_str()))
        .collect();
    assert_eq!(ids, [third.id.as_str(), revision.id.as_str()]);

    let deleted = client
        .delete_app()
        .app(&slug)
        .send()
        .await
        .expect("deleteApp");
    assert_eq!(deleted.status().as_u16(), 204);
}
