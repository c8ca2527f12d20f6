//! The fault matrix: each fault the emulator injects, once, against each kind of operation,
//! and what the caller sees (the outcome, and how many requests the server received).
//!
//! Run with `--nocapture` to print the matrix.

mod support;

use std::{future::Future, pin::Pin, time::Duration};

use deno_deploy::{prelude::*, types, RetryPolicy};
use deno_deploy_emulator::{Emulator, EmulatorConfig, Fault, Operation};
use futures::{StreamExt, TryStreamExt};
use support::fixtures::{create_app, hello_deploy};

/// The faults, by name, each applied to one request.
fn faults() -> Vec<(&'static str, Fault)> {
    vec![
        ("503", Fault::status(503)),
        ("429 + Retry-After: 1", Fault::rate_limited(1)),
        ("reset mid body", Fault::reset_mid_body()),
        ("stream dropped after 1 chunk", Fault::drop_stream_after(1)),
        ("stall", Fault::stall()),
        ("malformed JSON", Fault::malformed_json()),
        ("latency 50 ms", Fault::latency(Duration::from_millis(50))),
    ]
}

const OPERATIONS: [&str; 6] = [
    "GET app",
    "DELETE app",
    "POST create app",
    "POST deploy",
    "progress stream",
    "log follow",
];

/// The outcome of each cell, row by row (faults) and column by column (operations).
const EXPECTED: [[&str; 6]; 7] = [
    // 503
    [
        "ok, 2 sent",
        "ok, 2 sent",
        "API 503, 1 sent, 0 made",
        "API 503, 1 sent, 0 made",
        "ok, 2 sent",
        "ok, 2 sent",
    ],
    // 429 + Retry-After
    [
        "ok, 2 sent",
        "ok, 2 sent",
        "API 429, 1 sent, 0 made",
        "API 429, 1 sent, 0 made",
        "ok, 2 sent",
        "ok, 2 sent",
    ],
    // reset mid body
    [
        "ok, 2 sent",
        "ok, 1 sent",
        "transport, 1 sent, 1 made",
        "transport, 1 sent, 1 made",
        "stream, 1 sent",
        "ok, 2 sent",
    ],
    // stream dropped after one chunk
    [
        "ok, 1 sent",
        "ok, 1 sent",
        "ok, 1 sent, 1 made",
        "ok, 1 sent, 1 made",
        "stream, 1 sent",
        "ok, 2 sent",
    ],
    // stall
    [
        "ok, 2 sent",
        "ok, 2 sent",
        "transport, 1 sent, 0 made",
        "transport, 1 sent, 0 made",
        "ok, 2 sent",
        "ok, 2 sent",
    ],
    // malformed JSON
    [
        "decode, 1 sent",
        "ok, 1 sent",
        "decode, 1 sent, 1 made",
        "decode, 1 sent, 1 made",
        "decode, 1 sent",
        "decode, 1 sent",
    ],
    // latency
    [
        "ok, 1 sent",
        "ok, 1 sent",
        "ok, 1 sent, 1 made",
        "ok, 1 sent, 1 made",
        "ok, 1 sent",
        "ok, 1 sent",
    ],
];

fn kind(error: &Error) -> String {
    match error {
        Error::Api(api) => format!("API {}", api.status.as_u16()),
        Error::Transport(_) => "transport".into(),
        Error::Decode { .. } => "decode".into(),
        Error::Stream(_) => "stream".into(),
        other => format!("{other:?}"),
    }
}

fn outcome<T>(result: Result<T, Error>, sent: u64) -> String {
    match result {
        Ok(_) => format!("ok, {sent} sent"),
        Err(error) => format!("{}, {sent} sent", kind(&error)),
    }
}

/// Runs one operation with `fault` injected into its next request; the cell's outcome.
async fn cell(operation: &'static str, fault: Fault) -> String {
    // A progress stream opened while the build runs has several reports to send; one opened
    // after it finished has only the last, which no fault after it can break.
    let stage = match operation {
        "progress stream" => Duration::from_millis(200),
        _ => Duration::from_millis(5),
    };
    let emulator = Emulator::start_with(
        EmulatorConfig::default()
            .build_delay(stage)
            .keepalive(Duration::from_secs(600)),
    )
    .expect("emulator starts");
    let client = Client::builder()
        .base_url(emulator.base_url())
        .token(emulator.token())
        .request_timeout(Duration::from_secs(2))
        .stream_idle_timeout(Duration::from_secs(2))
        .retry_policy(RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(5),
        })
        .build()
        .expect("client builds");
    // The app is made by a client with the default timeouts: on a loaded machine the set-up
    // must not fail by the short timeout that only the faulty call is meant to meet.
    let setup = Client::builder()
        .base_url(emulator.base_url())
        .token(emulator.token())
        .build()
        .expect("client builds");
    create_app(&setup, "matrix").await;

    match operation {
        "GET app" => {
            emulator.inject(Operation::GetApp, fault);
            let result = client.get_app().app("matrix").send().await;
            outcome(
                result.map_err(Error::from),
                emulator.operation_count(Operation::GetApp),
            )
        }
        "DELETE app" => {
            emulator.inject(Operation::DeleteApp, fault);
            let result = client.delete_app().app("matrix").send().await;
            let sent = emulator.operation_count(Operation::DeleteApp);
            emulator.clear_faults();
            if result.is_ok() {
                let gone = client.get_app().app("matrix").send().await;
                assert_eq!(
                    Error::from(gone.unwrap_err()).status().unwrap().as_u16(),
                    404
                );
            }
            outcome(result.map_err(Error::from), sent)
        }
        "POST create app" => {
            emulator.inject(Operation::CreateApp, fault);
            let result = client
                .create_app()
                .body(
                    types::CreateAppRequest::builder()
                        .slug("made".parse::<types::CreateAppRequestSlug>().unwrap()),
                )
                .send()
                .await;
            let sent = emulator.operation_count(Operation::CreateApp) - 1;
            emulator.clear_faults();
            let apps = client.list_apps().send().await.unwrap().into_inner();
            let made = apps.iter().filter(|a| a.slug.as_str() == "made").count();
            format!(
                "{}, {made} made",
                outcome(result.map_err(Error::from), sent)
            )
        }
        "POST deploy" => {
            emulator.inject(Operation::DeployApp, fault);
            let result = client
                .deploy_app()
                .app("matrix")
                .body(hello_deploy())
                .send()
                .await;
            let sent = emulator.operation_count(Operation::DeployApp);
            emulator.clear_faults();
            let made = client
                .list_revisions()
                .app("matrix")
                .send()
                .await
                .unwrap()
                .into_inner()
                .len();
            format!(
                "{}, {made} made",
                outcome(result.map_err(Error::from), sent)
            )
        }
        "progress stream" => {
            let revision = client
                .deploy_app()
                .app("matrix")
                .body(hello_deploy())
                .send()
                .await
                .unwrap()
                .into_inner();
            emulator.inject(Operation::StreamRevisionProgress, fault);
            let result: Result<Vec<_>, Error> = client
                .revision_progress(&revision.id)
                .stream()
                .try_collect()
                .await;
            if let Ok(reports) = &result {
                assert!(reports
                    .last()
                    .is_some_and(deno_deploy::ext::streams::is_finished));
            }
            outcome(
                result,
                emulator.operation_count(Operation::StreamRevisionProgress),
            )
        }
        "log follow" => {
            emulator.emit_logs("matrix", 5).unwrap();
            emulator.inject(Operation::GetAppLogs, fault);
            let since = chrono::Utc::now() - chrono::Duration::hours(1);
            let stream = client.follow_logs("matrix", since).stream();
            let result: Result<Vec<_>, Error> = stream.take(5).try_collect().await;
            if let Ok(entries) = &result {
                let messages: Vec<String> =
                    entries.iter().filter_map(|e| e.message.clone()).collect();
                let expected: Vec<String> = (0..5).map(|n| format!("GET /page/{n} 200")).collect();
                assert_eq!(messages, expected, "each entry once, in order");
            }
            outcome(result, emulator.operation_count(Operation::GetAppLogs))
        }
        other => unreachable!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_against_every_kind_of_operation_has_the_expected_outcome() {
    let mut cells: Vec<Pin<Box<dyn Future<Output = String> + Send>>> = Vec::new();
    for (_, fault) in faults() {
        for operation in OPERATIONS {
            let fault = fault.clone();
            cells.push(Box::pin(async move {
                tokio::time::timeout(Duration::from_secs(30), cell(operation, fault))
                    .await
                    .unwrap_or_else(|_| "hung".into())
            }));
        }
    }
    // A few cells at a time: enough to overlap their waits, few enough that a normal request
    // never comes near the short timeouts the stall cells rely on.
    let outcomes: Vec<String> = futures::stream::iter(cells).buffered(4).collect().await;

    let mut table = format!(
        "| fault | {} |\n|---|{}\n",
        OPERATIONS.join(" | "),
        "---|".repeat(6)
    );
    let mut mismatches = Vec::new();
    for (row, (name, _)) in faults().iter().enumerate() {
        let found = &outcomes[row * 6..row * 6 + 6];
        table.push_str(&format!("| {name} | {} |\n", found.join(" | ")));
        for (column, found) in found.iter().enumerate() {
            if found != EXPECTED[row][column] {
                mismatches.push(format!(
                    "{name} x {}: expected {:?}, found {found:?}",
                    OPERATIONS[column], EXPECTED[row][column]
                ));
            }
        }
    }
    println!("{table}");
    assert!(mismatches.is_empty(), "{}\n{table}", mismatches.join("\n"));
}
