//! Retries against the emulator's injected faults: what is sent again, how often, and what the
//! caller sees when it is not. Attempts are counted on the server, never timed.

mod support;

use std::time::Duration;

use deno_deploy::{prelude::*, retry_non_idempotent, RetryPolicy};
use deno_deploy_emulator::{Emulator, EmulatorConfig, Fault, Operation};
use support::fixtures::{create_app, hello_deploy};
use support::{capture, Reply, Server};

/// The token every client here carries; it must never show in what they log.
const TOKEN: &str = "ddo_retry_secret_7f3a9c";

fn start() -> Emulator {
    Emulator::start_with(
        EmulatorConfig::default()
            .token(TOKEN)
            .build_delay(Duration::from_millis(5)),
    )
    .expect("emulator starts")
}

/// A client with short backoff steps, so a test with retries stays quick.
fn client(base_url: &str) -> deno_deploy::ClientBuilder {
    Client::builder()
        .base_url(base_url)
        .token(TOKEN)
        .retry_policy(RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(5),
        })
}

async fn revision_count(client: &Client, app: &str) -> usize {
    client
        .list_revisions()
        .app(app)
        .send()
        .await
        .expect("revisions listed")
        .into_inner()
        .len()
}

fn api_error(error: impl Into<Error>) -> deno_deploy::ApiError {
    match error.into() {
        Error::Api(api) => api,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_get_answered_503_is_retried_and_then_succeeds() {
    let emulator = start();
    let client = client(emulator.base_url()).build().unwrap();
    create_app(&client, "steady").await;
    emulator.inject(Operation::GetApp, Fault::status(503).times(2));

    let app = client.get_app().app("steady").send().await.unwrap();
    assert_eq!(*app.into_inner().slug, "steady");
    assert_eq!(emulator.operation_count(Operation::GetApp), 3);
}

#[tokio::test]
async fn a_get_that_keeps_failing_gives_up_after_the_configured_retries() {
    let emulator = start();
    let client = client(emulator.base_url()).build().unwrap();
    emulator.inject(Operation::ListApps, Fault::status(503).always());

    let error: Error = client.list_apps().send().await.unwrap_err().into();
    assert!(error.is_retryable());
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
    let text = error.to_string();
    assert!(text.contains("try again later"), "{text}");
    assert_eq!(emulator.operation_count(Operation::ListApps), 3);
}

#[tokio::test]
async fn a_429_with_retry_after_seconds_is_waited_for_then_retried() {
    let emulator = start();
    let client = client(emulator.base_url()).build().unwrap();
    emulator.inject(Operation::ListApps, Fault::rate_limited(1));
    let (logged, _guard) = capture(tracing::Level::WARN);

    client.list_apps().send().await.unwrap();
    assert_eq!(emulator.operation_count(Operation::ListApps), 2);
    // The wait came from the header, not from the backoff (whose steps are 10 ms here).
    let retries = logged.lines_with("retrying request");
    assert_eq!(retries.len(), 1, "{retries:?}");
    assert!(retries[0].contains("wait_ms=1000"), "{}", retries[0]);
    assert!(retries[0].contains("cause=status 429"), "{}", retries[0]);
}

#[tokio::test]
async fn a_retry_after_http_date_is_honoured_too() {
    let soon = httpdate_in(Duration::from_secs(1));
    let server = Server::start([
        Reply::json(429, r#"{"error":"slow down","code":"rate_limited"}"#)
            .header("retry-after", &soon),
        Reply::json(200, "[]"),
    ])
    .await;
    let client = client(&server.base_url).build().unwrap();

    let apps = client.list_apps().send().await.unwrap().into_inner();
    assert!(apps.is_empty());
    assert_eq!(server.seen().len(), 2);
}

fn httpdate_in(wait: Duration) -> String {
    let at = std::time::SystemTime::now() + wait;
    // An HTTP-date has whole seconds: round up so the date is not already past.
    let secs = at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 1;
    let at = std::time::UNIX_EPOCH + Duration::from_secs(secs);
    chrono::DateTime::<chrono::Utc>::from(at)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

#[tokio::test]
async fn a_huge_retry_after_is_not_waited_for_and_reads_as_a_rate_limit() {
    let emulator = start();
    let client = client(emulator.base_url()).build().unwrap();
    emulator.inject(Operation::ListApps, Fault::rate_limited(3600));

    let error = api_error(client.list_apps().send().await.unwrap_err());
    assert_eq!(error.status.as_u16(), 429);
    assert_eq!(error.code.as_deref(), Some("rate_limited"));
    assert_eq!(error.retry_after, Some(Duration::from_secs(3600)));
    assert!(error.is_retryable());
    let text = error.to_string();
    assert!(text.contains("rate limit"), "{text}");
    assert!(text.contains("3600 s"), "{text}");
    assert_eq!(emulator.operation_count(Operation::ListApps), 1);
}

#[tokio::test]
async fn max_retries_zero_switches_retries_off() {
    let emulator = start();
    let client = client(emulator.base_url()).max_retries(0).build().unwrap();
    emulator.inject(Operation::ListApps, Fault::status(503));

    let error = api_error(client.list_apps().send().await.unwrap_err());
    assert_eq!(error.status.as_u16(), 503);
    assert_eq!(emulator.operation_count(Operation::ListApps), 1);
    client.list_apps().send().await.unwrap();
}

#[tokio::test]
async fn a_deploy_answered_502_after_it_was_made_is_an_error_and_deploys_once() {
    let emulator = start();
    let client = client(emulator.base_url()).build().unwrap();
    create_app(&client, "once").await;
    emulator.inject(Operation::DeployApp, Fault::status(502).after_operation());

    let sent = client
        .deploy_app()
        .app("once")
        .body(hello_deploy())
        .send()
        .await;
    let error = api_error(sent.unwrap_err());
    assert_eq!(error.status.as_u16(), 502);
    assert_eq!(emulator.operation_count(Operation::DeployApp), 1);
    assert_eq!(
        revision_count(&client, "once").await,
        1,
        "exactly one deploy"
    );
}

#[tokio::test]
async fn a_deploy_refused_with_503_is_not_sent_again() {
    let emulator = start();
    let client = client(emulator.base_url()).build().unwrap();
    create_app(&client, "refused").await;
    emulator.inject(Operation::DeployApp, Fault::status(503));

    let sent = client
        .deploy_app()
        .app("refused")
        .body(hello_deploy())
        .send()
        .await;
    assert_eq!(api_error(sent.unwrap_err()).status.as_u16(), 503);
    assert_eq!(emulator.operation_count(Operation::DeployApp), 1);
    assert_eq!(revision_count(&client, "refused").await, 0);
}

#[tokio::test]
async fn a_deploy_whose_answer_breaks_mid_body_is_not_sent_again() {
    let emulator = start();
    let client = client(emulator.base_url()).build().unwrap();
    create_app(&client, "broken").await;
    emulator.inject(Operation::DeployApp, Fault::reset_mid_body());

    let sent = client
        .deploy_app()
        .app("broken")
        .body(hello_deploy())
        .send()
        .await;
    let error: Error = sent.unwrap_err().into();
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    assert_eq!(emulator.operation_count(Operation::DeployApp), 1);
    assert_eq!(
        revision_count(&client, "broken").await,
        1,
        "exactly one deploy"
    );
}

#[tokio::test]
async fn a_post_is_retried_when_the_caller_opts_in() {
    let emulator = start();
    let client = client(emulator.base_url()).build().unwrap();
    create_app(&client, "opted").await;
    emulator.inject(Operation::DeployApp, Fault::status(502));

    let call = client.deploy_app().app("opted").body(hello_deploy()).send();
    let revision = retry_non_idempotent(call).await.unwrap().into_inner();
    assert_eq!(emulator.operation_count(Operation::DeployApp), 2);
    let revisions = client.list_revisions().app("opted").send().await.unwrap();
    let ids: Vec<&str> = revisions.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, [revision.id.as_str()], "one deploy, the one returned");

    // Outside the opt-in scope the same fault is not retried.
    emulator.inject(Operation::DeployApp, Fault::status(502));
    let sent = client
        .deploy_app()
        .app("opted")
        .body(hello_deploy())
        .send()
        .await;
    assert_eq!(api_error(sent.unwrap_err()).status.as_u16(), 502);
    assert_eq!(emulator.operation_count(Operation::DeployApp), 3);
}

#[tokio::test]
async fn a_retried_delete_that_then_finds_nothing_is_a_success() {
    let emulator = start();
    let client = client(emulator.base_url()).build().unwrap();
    create_app(&client, "doomed").await;
    emulator.inject(Operation::DeleteApp, Fault::status(503).after_operation());

    client.delete_app().app("doomed").send().await.unwrap();
    assert_eq!(emulator.operation_count(Operation::DeleteApp), 2);
    let gone = api_error(client.get_app().app("doomed").send().await.unwrap_err());
    assert_eq!(gone.status.as_u16(), 404);

    // A DELETE answered 404 on its first attempt is still an error.
    let first = api_error(client.delete_app().app("doomed").send().await.unwrap_err());
    assert_eq!(first.status.as_u16(), 404);
}

#[tokio::test]
async fn a_get_whose_answer_breaks_mid_body_is_sent_again() {
    let emulator = start();
    let client = client(emulator.base_url()).build().unwrap();
    create_app(&client, "halved").await;
    emulator.inject(Operation::GetApp, Fault::reset_mid_body());

    let app = client
        .get_app()
        .app("halved")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(*app.slug, "halved");
    assert_eq!(emulator.operation_count(Operation::GetApp), 2);
}

#[tokio::test]
async fn a_stalled_get_times_out_and_is_sent_again() {
    let emulator = start();
    let client = client(emulator.base_url())
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    create_app(&client, "stalled").await;
    emulator.inject(Operation::GetApp, Fault::stall());

    client.get_app().app("stalled").send().await.unwrap();
    assert_eq!(emulator.operation_count(Operation::GetApp), 2);
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported_as_retryable() {
    // A port that was free a moment ago: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = client(&format!("http://127.0.0.1:{port}/v2"))
        .build()
        .unwrap();
    let (logged, _guard) = capture(tracing::Level::WARN);

    let error: Error = client.list_apps().send().await.unwrap_err().into();
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    assert!(error.is_retryable());
    let retries = logged.lines_with("retrying request");
    assert_eq!(retries.len(), 2, "{retries:?}");
    assert!(retries[0].contains("connection failed"), "{}", retries[0]);
}

#[tokio::test]
async fn each_retry_logs_one_warning_with_its_cause_and_never_the_token() {
    let emulator = start();
    let client = client(emulator.base_url()).build().unwrap();
    create_app(&client, "noisy").await;
    emulator.inject(Operation::GetApp, Fault::status(503).times(2));
    let (logged, _guard) = capture(tracing::Level::WARN);

    client.get_app().app("noisy").send().await.unwrap();
    let retries = logged.lines_with("retrying request");
    assert_eq!(retries.len(), 2, "{retries:?}");
    for (n, line) in retries.iter().enumerate() {
        assert!(line.contains("WARN"), "{line}");
        assert!(line.contains("operation=\"get_app\""), "{line}");
        assert!(line.contains(&format!("attempt={}", n + 1)), "{line}");
        assert!(line.contains("wait_ms="), "{line}");
        assert!(line.contains("cause=status 503"), "{line}");
    }
    assert!(!logged.text().contains(TOKEN));
}

#[tokio::test]
async fn a_transport_error_says_whether_it_timed_out_could_not_connect_or_broke_mid_body() {
    let emulator = start();
    let troubled = client(emulator.base_url())
        .request_timeout(Duration::from_millis(300))
        .max_retries(0)
        .build()
        .unwrap();
    create_app(&troubled, "troubled").await;

    emulator.inject(Operation::GetApp, Fault::stall());
    let stalled: Error = troubled
        .get_app()
        .app("troubled")
        .send()
        .await
        .unwrap_err()
        .into();
    assert!(
        stalled.to_string().starts_with(
            "transport: timed out waiting for the server (the client's request timeout ran out"
        ),
        "{stalled}"
    );

    emulator.inject(Operation::GetApp, Fault::reset_mid_body());
    let broken: Error = troubled
        .get_app()
        .app("troubled")
        .send()
        .await
        .unwrap_err()
        .into();
    assert!(
        broken
            .to_string()
            .starts_with("transport: the connection broke while the body was being transferred: "),
        "{broken}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = client(&format!("http://127.0.0.1:{port}/v2"))
        .max_retries(0)
        .build()
        .unwrap();
    let refused: Error = nowhere.list_apps().send().await.unwrap_err().into();
    assert!(
        refused
            .to_string()
            .starts_with("transport: could not connect to the server: "),
        "{refused}"
    );
    for error in [&stalled, &broken, &refused] {
        assert!(!error.to_string().contains(TOKEN), "{error}");
    }
}
