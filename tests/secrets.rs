//! The token and secret env var values never show: not in `Debug` or `Display` of the client,
//! its configuration or any error, not in tracing output at any level; and the token is never
//! sent to another origin.

mod support;

use std::time::Duration;

use deno_deploy::{
    ext::{AppUpdate, EnvVarPatch, StreamFormat},
    prelude::*,
    types, ClientBuilder, RetryPolicy, Token,
};
use deno_deploy_emulator::{Emulator, EmulatorConfig, Fault, Operation};
use futures::{StreamExt, TryStreamExt};
use support::fixtures::{deploy_request, hello_asset, hello_deploy};
use support::{capture, within, Reply, Server};

const TOKEN: &str = "ddo_known_token_Zq81xWv";
const SECRET_VALUE: &str = "secret-value-Hk29pQ";

/// Fails when `text` holds the token or the secret value (or a recognizable part of either).
fn assert_clean(what: &str, text: &str) {
    for needle in [TOKEN, "Zq81xWv", SECRET_VALUE, "Hk29pQ"] {
        assert!(!text.contains(needle), "{what} shows {needle:?}: {text}");
    }
}

/// Both renderings of an error.
fn check_error(what: &str, error: &Error) {
    assert_clean(what, &error.to_string());
    assert_clean(what, &format!("{error:?}"));
}

fn builder(base_url: &str) -> ClientBuilder {
    Client::builder()
        .base_url(base_url)
        .token(TOKEN)
        .stream_idle_timeout(Duration::from_millis(300))
        .request_timeout(Duration::from_millis(500))
        .retry_policy(RetryPolicy {
            max_retries: 1,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(1),
        })
}

fn start() -> Emulator {
    Emulator::start_with(
        EmulatorConfig::default()
            .token(TOKEN)
            .build_delay(Duration::from_millis(5)),
    )
    .expect("emulator starts")
}

#[test]
fn the_client_its_builder_and_its_settings_never_show_the_token() {
    let builder = builder("https://api.example.invalid/v2");
    let client = builder.clone().build().unwrap();
    for (what, text) in [
        ("builder", format!("{builder:?}")),
        ("client", format!("{client:?}")),
        ("client settings", format!("{:?}", client.state())),
        ("token", format!("{:?}", Token::new(TOKEN))),
    ] {
        assert_clean(what, &text);
        assert!(!text.is_empty());
    }
}

#[test]
fn a_secret_env_var_patch_never_shows_its_value() {
    let patch = EnvVarPatch::set_secret("API_KEY", SECRET_VALUE);
    let update = AppUpdate::new().env_var(patch.clone());
    assert_clean("patch", &format!("{patch:?}"));
    assert_clean("update", &format!("{update:?}"));
    // A value set without the secret flag may rotate an existing secret by key: it is hidden
    // too, while the key and the kind of change still show.
    let rotate = EnvVarPatch::set("API_KEY", SECRET_VALUE);
    let text = format!("{rotate:?}");
    assert_clean("rotating patch", &text);
    assert!(
        text.contains("API_KEY") && text.contains("Set(<redacted>)"),
        "{text}"
    );
    assert_clean("value", &format!("{:?}", rotate.value));
    let delete = EnvVarPatch::delete("env_01");
    assert!(format!("{delete:?}").contains("Delete"));
}

#[test]
fn the_generated_create_and_deploy_bodies_never_show_an_env_var_value() {
    let input = types::EnvVarInput {
        contexts: None,
        key: "API_KEY".parse().unwrap(),
        secret: true,
        value: SECRET_VALUE.parse().unwrap(),
    };
    let create = types::CreateAppRequest::builder()
        .slug("hushed".parse::<types::CreateAppRequestSlug>().unwrap())
        .env_vars(vec![input.clone()]);
    let body = types::CreateAppRequest::try_from(create.clone()).unwrap();
    assert_clean("env var input", &format!("{input:?}"));
    assert_clean("create builder", &format!("{create:?}"));
    assert_clean("create body", &format!("{body:?}"));
    assert!(
        format!("{input:?}").contains("API_KEY"),
        "the key still shows"
    );
    // The value still goes on the wire.
    assert!(serde_json::to_string(&body).unwrap().contains(SECRET_VALUE));

    let deploy: types::EnvVarInputForDeploy = serde_json::from_value(serde_json::json!({
        "key": "TOKEN", "value": SECRET_VALUE, "secret": true
    }))
    .unwrap();
    assert_clean("deploy env var", &format!("{deploy:?}"));
}

#[test]
fn configuration_errors_never_show_the_token() {
    let errors = [
        builder("ftp://example.invalid/v2").build().unwrap_err(),
        builder("http://example.invalid/v2").build().unwrap_err(),
        builder("not a url").build().unwrap_err(),
        Client::builder()
            .token(format!("{TOKEN}\n"))
            .build()
            .unwrap_err(),
    ];
    for error in &errors {
        assert!(matches!(error, Error::Config(_)), "{error:?}");
        check_error("config error", error);
    }
}

#[test]
fn plain_http_is_refused_unless_the_host_is_loopback_or_it_is_allowed() {
    let refused = builder("http://example.invalid/v2").build().unwrap_err();
    assert!(
        refused.to_string().contains("allow_insecure_http"),
        "{refused}"
    );
    assert!(builder("http://127.0.0.1:9/v2").build().is_ok());
    assert!(builder("http://[::1]:9/v2").build().is_ok());
    assert!(builder("http://example.invalid/v2")
        .allow_insecure_http(true)
        .build()
        .is_ok());
}

/// Provokes every kind of error a call can end with, checking each, and records everything
/// logged meanwhile at TRACE level (reqwest's and hyper's own logging included).
#[tokio::test]
async fn no_error_and_no_trace_output_shows_the_token_or_a_secret_value() {
    let (logged, _guard) = capture(tracing::Level::TRACE);
    let emulator = start();
    let client = builder(emulator.base_url()).build().unwrap();
    let mut kinds = Vec::new();

    // A full round: a secret env var, a deploy, its progress, its logs.
    let secret = types::EnvVarInput {
        contexts: None,
        key: "API_KEY".parse().unwrap(),
        secret: true,
        value: SECRET_VALUE.parse().unwrap(),
    };
    let app = client
        .create_app()
        .body(
            types::CreateAppRequest::builder()
                .slug("hushed".parse::<types::CreateAppRequestSlug>().unwrap())
                .env_vars(vec![secret]),
        )
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_clean("app as returned", &format!("{app:?}"));
    client
        .update_app()
        .app("hushed")
        .body(AppUpdate::new().env_var(EnvVarPatch::set_secret("OTHER", SECRET_VALUE)))
        .send()
        .await
        .unwrap();

    // Api: the server refuses (404), and a wrong token (401) from the same client settings.
    let error = Error::from(client.get_app().app("nope").send().await.unwrap_err());
    kinds.push(("api 404", error));
    let stranger = builder(emulator.base_url())
        .token("ddo_wrong_token")
        .build()
        .unwrap();
    let error = Error::from(stranger.list_apps().send().await.unwrap_err());
    assert_eq!(error.status().map(|s| s.as_u16()), Some(401));
    kinds.push(("api 401", error));
    // Api with an undocumented status and Retry-After.
    emulator.inject(Operation::ListApps, Fault::rate_limited(3600));
    kinds.push((
        "api 429",
        Error::from(client.list_apps().send().await.unwrap_err()),
    ));

    // InvalidInput, with the secret value as the offending input.
    let too_long = format!("{SECRET_VALUE}{}", "x".repeat(4096));
    let error = client
        .update_app()
        .app("hushed")
        .body(AppUpdate::new().env_var(EnvVarPatch::set_secret("BIG", too_long)))
        .send()
        .await
        .unwrap_err();
    let error = Error::from(error);
    assert!(matches!(error, Error::InvalidInput { .. }), "{error:?}");
    kinds.push(("invalid input", error));

    // Decode: a malformed body; Transport: a stalled one, then a reset one on a POST.
    emulator.inject(Operation::GetApp, Fault::malformed_json());
    let error = Error::from(client.get_app().app("hushed").send().await.unwrap_err());
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    kinds.push(("decode", error));
    emulator.inject(Operation::UpdateApp, Fault::stall());
    let error = client
        .update_app()
        .app("hushed")
        .body(AppUpdate::new().env_var(EnvVarPatch::set_secret("THIRD", SECRET_VALUE)))
        .send()
        .await
        .unwrap_err();
    let error = Error::from(error);
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    kinds.push(("transport timeout", error));
    emulator.inject(Operation::CreateApp, Fault::reset_mid_body());
    let error = client
        .create_app()
        .body(types::CreateAppRequest::builder())
        .send()
        .await
        .unwrap_err();
    kinds.push(("transport reset", Error::from(error)));

    // Stream: a progress stream cut short, and a follow that gives up.
    let deployed = client
        .deploy_app()
        .app("hushed")
        .body(hello_deploy())
        .send()
        .await
        .unwrap()
        .into_inner();
    let progress: Vec<_> = within(
        10,
        client
            .revision_progress(&deployed.id)
            .stream()
            .try_collect(),
    )
    .await
    .unwrap();
    assert!(!progress.is_empty());
    emulator.inject(Operation::StreamRevisionProgress, Fault::reset_mid_body());
    let cut: Result<Vec<_>, Error> = within(
        10,
        client
            .revision_progress(&deployed.id)
            .stream()
            .try_collect(),
    )
    .await;
    let error = cut.unwrap_err();
    assert!(matches!(error, Error::Stream(_)), "{error:?}");
    kinds.push(("stream", error));
    emulator.inject(Operation::GetAppLogs, Fault::status(503).always());
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let error = within(
        10,
        client
            .follow_logs("hushed", since)
            .format(StreamFormat::Ndjson)
            .max_reconnects(1)
            .stream()
            .next(),
    )
    .await
    .unwrap()
    .unwrap_err();
    kinds.push(("follow gave up", error));
    emulator.clear_faults();

    // RevisionFailed: a build without its entrypoint.
    let broken = client
        .deploy_app()
        .app("hushed")
        .body(deploy_request(
            [("other.ts".to_owned(), hello_asset())].into(),
        ))
        .send()
        .await
        .unwrap()
        .into_inner();
    let error = client
        .wait_for_revision(&broken.id)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::RevisionFailed { .. }), "{error:?}");
    kinds.push(("revision failed", error));

    for (what, error) in &kinds {
        check_error(what, error);
    }
    assert_eq!(kinds.len(), 10);

    let text = logged.text();
    assert_clean("trace output", &text);
    // The capture did see the traffic, at every level down to TRACE, reqwest included.
    assert!(
        text.contains("sending request"),
        "no request events captured"
    );
    assert!(
        text.contains("retrying request"),
        "no retry events captured"
    );
    assert!(text.contains("TRACE"), "no TRACE events captured");
    for target in ["reqwest::", "hyper_util::"] {
        assert!(text.contains(target), "no {target} events captured");
    }
}

/// A deploy of one small file under `name` (without `main.ts` the build fails).
fn app_page() -> String {
    r#"[{"id":"00000000-0000-4000-8000-000000000001","slug":"app-1"}]"#.to_owned()
}

#[tokio::test]
async fn a_redirect_to_another_origin_never_carries_the_token() {
    let elsewhere = Server::start([Reply::json(200, &app_page())]).await;
    let here =
        Server::start(
            [Reply::new(307).header("location", &format!("{}/apps", elsewhere.base_url))],
        )
        .await;
    let client = builder(&here.base_url).build().unwrap();

    let outcome = within(10, client.list_apps().send()).await;
    let seen_here = here.seen();
    assert_eq!(seen_here.len(), 1);
    assert_eq!(
        seen_here[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str()),
        "the base origin gets the token"
    );
    // The redirect is followed, without the token and without saying where it came from.
    let apps = outcome.unwrap().into_inner();
    assert_eq!(apps.len(), 1);
    let seen_elsewhere = elsewhere.seen();
    assert_eq!(seen_elsewhere.len(), 1);
    assert_eq!(seen_elsewhere[0].header("authorization"), None);
    assert_eq!(seen_elsewhere[0].header("referer"), None);
}

#[tokio::test]
async fn a_next_page_link_to_another_origin_is_refused_before_anything_is_sent_there() {
    let elsewhere = Server::start([Reply::json(200, &app_page())]).await;
    let link = format!(r#"<{}/apps?cursor=p2>; rel="next""#, elsewhere.base_url);
    let here = Server::start([Reply::json(200, &app_page()).header("link", &link)]).await;
    let client = builder(&here.base_url).build().unwrap();

    let result: Result<Vec<types::AppListItem>, Error> =
        within(10, client.list_apps().stream().try_collect()).await;
    let error = result.unwrap_err();
    assert!(matches!(error, Error::ForeignOrigin { .. }), "{error:?}");
    assert!(!error.to_string().contains("cursor=p2"), "{error}");
    assert_eq!(here.seen().len(), 1);
    assert_eq!(
        elsewhere.seen().len(),
        0,
        "nothing reached the other origin"
    );
}
