//! Answers from a server newer than the vendored spec still parse: unknown fields are ignored, an
//! enum value the spec does not list lands in the enum's `Unknown` variant with its raw string,
//! and ids and constrained strings are taken as sent. Requests stay as strict as the spec.

mod support;

use deno_deploy::{ext::Paginated, types, Error};
use futures::{StreamExt, TryStreamExt};
use support::{within, Reply, Server};

/// A revision as a newer server might send it: a new status, new fields, a new runtime type and
/// a new env var context.
const NEWER_REVISION: &str = r#"{
    "id": "rev_1",
    "status": "archived",
    "archived_at": "2027-01-01T00:00:00Z",
    "retention": {"days": 30},
    "env_vars": [{"id": "env_1", "key": "API", "contexts": "preview", "scope": "revision"}],
    "config": {"runtime": {"type": "edge", "entrypoint": "main.ts", "memory_mb": 512}}
}"#;

#[tokio::test]
async fn a_revision_with_an_unknown_status_and_unknown_fields_still_parses() {
    let server = Server::start([Reply::json(200, NEWER_REVISION)]).await;
    let client = server.client();

    let revision = within(10, client.get_revision().revision("rev_1").send())
        .await
        .unwrap()
        .into_inner();

    assert_eq!(
        revision.status,
        types::RevisionStatus::Unknown("archived".into())
    );
    assert_eq!(revision.status.to_string(), "archived");
    assert!(
        matches!(
            &revision.env_vars[0].contexts,
            Some(types::EnvVarContexts::String(types::EnvVarContextsString::Unknown(raw)))
                if raw == "preview"
        ),
        "{:?}",
        revision.env_vars[0].contexts
    );
    let runtime = revision.config.unwrap().runtime.unwrap();
    assert_eq!(runtime.type_, types::RuntimeType::Unknown("edge".into()));
    assert_eq!(runtime.entrypoint.as_deref(), Some("main.ts"));
}

#[tokio::test]
async fn listed_revisions_with_an_unknown_status_still_parse_page_by_page() {
    let first = r#"[{"id":"rev_1","status":"succeeded"},{"id":"rev_2","status":"archived"}]"#;
    let second = r#"[{"id":"rev_3","status":"hibernating","region_count":3}]"#;
    let server = Server::start([
        Reply::json(200, first).header("link", r#"</v2/apps/a/revisions?cursor=c2>; rel="next""#),
        Reply::json(200, second),
    ])
    .await;
    let client = server.client();

    let revisions: Vec<types::RevisionListItem> =
        within(10, client.list_revisions().app("a").stream().try_collect())
            .await
            .unwrap();

    let statuses: Vec<types::RevisionListItemStatus> =
        revisions.into_iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            types::RevisionListItemStatus::Succeeded,
            types::RevisionListItemStatus::Unknown("archived".into()),
            types::RevisionListItemStatus::Unknown("hibernating".into()),
        ]
    );
}

#[tokio::test]
async fn an_app_with_an_id_slug_and_env_var_outside_the_spec_still_parses() {
    // Not a UUID, a slug that breaks `^[a-z][a-z0-9-]{2,62}$`, a key that breaks its pattern.
    let app = r#"{
        "id": "app_01HX7Q",
        "slug": "Team.Shop",
        "owner": {"kind": "team"},
        "env_vars": [{"id": "env_1", "key": "api-url", "value": "x", "contexts": ["prod"]}],
        "config": {"runtime": {"type": "wasm"}}
    }"#;
    let listed = r#"[{"id":"app_01HX7Q","slug":"Team.Shop","tier":"pro"}]"#;
    let server = Server::start([Reply::json(200, app), Reply::json(200, listed)]).await;
    let client = server.client();

    let app = within(10, client.get_app().app("app_01HX7Q").send())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(app.id, "app_01HX7Q");
    assert_eq!(app.slug.as_str(), "Team.Shop");
    assert_eq!(app.env_vars[0].key.as_str(), "api-url");
    assert_eq!(
        app.config.unwrap().runtime.unwrap().type_.to_string(),
        "wasm"
    );

    let apps: Vec<types::AppListItem> = within(10, client.list_apps().stream().try_collect())
        .await
        .unwrap();
    assert_eq!(apps[0].id, "app_01HX7Q");
    assert_eq!(apps[0].slug, "Team.Shop");
}

#[tokio::test]
async fn progress_reports_with_unknown_stage_statuses_and_stages_still_parse() {
    let events = [
        r#"{"queued":{"status":"waiting"},"scanning":{"status":"running"}}"#,
        r#"{"deploying":{"status":"verifying","timelines":[{"region":"eu","status":"draining"}]}}"#,
        r#"{"deploying":{"status":"succeeded","timelines":[{"region":"eu","status":"succeeded"}]}}"#,
    ];
    let body: String = events
        .iter()
        .map(|json| format!("data: {json}\n\n"))
        .collect();
    let server = Server::start([Reply::new(200)
        .header("content-type", "text/event-stream")
        .chunk(body)])
    .await;
    let client = server.client();

    let reports: Vec<types::RevisionProgress> =
        within(10, client.revision_progress("rev_1").stream().try_collect())
            .await
            .unwrap();

    assert_eq!(reports.len(), 3, "{reports:?}");
    assert_eq!(
        reports[0].queued.as_ref().unwrap().status,
        Some(types::StageStatusStatus::Unknown("waiting".into()))
    );
    let deploying = reports[1].deploying.as_ref().unwrap();
    assert_eq!(
        deploying.status,
        Some(types::DeployingStageStatusStatus::Unknown(
            "verifying".into()
        ))
    );
    assert_eq!(
        deploying.timelines[0].status,
        Some(types::DeploymentTimelineStatus::Unknown("draining".into()))
    );
    assert!(deno_deploy::ext::streams::is_finished(&reports[2]));
}

#[tokio::test]
async fn log_entries_with_an_unknown_level_still_parse_in_pages_and_live() {
    let page = r#"{"logs":[{"level":"fatal","message":"boom","trace_id":"t1"}],"cursor":""}"#;
    let live = "{\"level\":\"trace\",\"message\":\"tick\"}\n";
    let server = Server::start([
        Reply::json(200, page),
        Reply::new(200)
            .header("content-type", "application/x-ndjson")
            .chunk(live),
    ])
    .await;
    let client = server.client();
    let start: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().unwrap();

    let history = within(
        10,
        client
            .get_app_logs()
            .app("a")
            .start(start)
            .end(start + chrono::Duration::hours(1))
            .send(),
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(
        history.logs[0].level,
        Some(types::RuntimeLogEntryLevel::Unknown("fatal".into()))
    );

    let follow = client.follow_logs("a", start).max_reconnects(0);
    let entries: Vec<_> = within(10, follow.stream().collect()).await;
    let entry = entries[0].as_ref().unwrap();
    assert_eq!(
        entry.level,
        Some(types::RuntimeLogEntryLevel::Unknown("trace".into()))
    );
    assert_eq!(entry.message.as_deref(), Some("tick"));
}

#[test]
fn an_unknown_value_is_written_back_exactly_as_it_was_read() {
    let status: types::RevisionStatus = serde_json::from_str(r#""archived""#).unwrap();
    assert_eq!(serde_json::to_string(&status).unwrap(), r#""archived""#);
    let known: types::RevisionStatus = serde_json::from_str(r#""queued""#).unwrap();
    assert_eq!(known, types::RevisionStatus::Queued);
}

#[test]
fn parsing_a_value_by_hand_still_refuses_what_the_spec_does_not_list() {
    assert!("archived".parse::<types::RevisionStatus>().is_err());
    assert!(types::RuntimeType::try_from("edge").is_err());
    assert_eq!(
        "static".parse::<types::RuntimeType>().unwrap(),
        types::RuntimeType::Static
    );
    assert!("Team.Shop".parse::<types::AppSlug>().is_err());
}

#[tokio::test]
async fn an_unknown_value_in_a_request_is_refused_before_anything_is_sent() {
    let server = Server::start([]).await;
    let client = server.client();

    let query = client
        .list_revisions()
        .app("a")
        .status(types::ListRevisionsStatus::Unknown("archived".into()))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(Error::from(query), Error::InvalidInput { ref field, .. } if field == "status"),
    );

    let config = types::Config {
        runtime: Some(types::Runtime {
            args: Vec::new(),
            cwd: None,
            entrypoint: Some("main.ts".into()),
            spa: None,
            type_: types::RuntimeType::Unknown("edge".into()),
        }),
        ..Default::default()
    };
    let body = client
        .create_app()
        .body(types::CreateAppRequest::builder().config(config))
        .send()
        .await
        .unwrap_err();
    let body = Error::from(body);
    assert!(
        matches!(&body, Error::InvalidInput { field, .. } if field == "config.runtime.type"),
        "{body:?}"
    );
    assert!(server.seen().is_empty(), "{:?}", server.seen());
}
