//! Following runtime logs through dropped connections, silence and stalls: every entry arrives
//! exactly once and in order, over SSE and NDJSON alike.

mod support;

use std::time::Duration;

use deno_deploy::{ext::StreamFormat, prelude::*, types, RetryPolicy};
use deno_deploy_emulator::{Emulator, EmulatorConfig, Fault, Operation};
use futures::StreamExt;
use support::fixtures::create_app;
use support::within;

/// Keep-alives far apart, so only the tests' own faults and timeouts break a connection.
fn start() -> Emulator {
    Emulator::start_with(
        EmulatorConfig::default()
            .build_delay(Duration::from_millis(5))
            .keepalive(Duration::from_secs(600)),
    )
    .expect("emulator starts")
}

/// A client with short reconnect steps and the given stream idle timeout.
fn client(emulator: &Emulator, idle: Duration) -> Client {
    Client::builder()
        .base_url(emulator.base_url())
        .token(emulator.token())
        .stream_idle_timeout(idle)
        .retry_policy(RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(2),
        })
        .build()
        .expect("client builds")
}

fn an_hour_ago() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() - chrono::Duration::hours(1)
}

/// The page numbers of `emit_logs` messages (`GET /page/N 200`), in the order received.
fn page_numbers(entries: &[types::RuntimeLogEntry]) -> Vec<usize> {
    entries
        .iter()
        .map(|entry| {
            let message = entry.message.as_deref().unwrap_or_default();
            message
                .strip_prefix("GET /page/")
                .and_then(|rest| rest.strip_suffix(" 200"))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("not an emitted entry: {message:?}"))
        })
        .collect()
}

/// Takes `count` entries from a followed stream, failing on the first error.
async fn take(
    stream: &mut deno_deploy::ext::LogStream<'_>,
    count: usize,
) -> Vec<types::RuntimeLogEntry> {
    let mut entries = Vec::with_capacity(count);
    while entries.len() < count {
        match stream.next().await {
            Some(Ok(entry)) => entries.push(entry),
            Some(Err(error)) => panic!("after {} entries: {error}", entries.len()),
            None => panic!("the stream ended after {} entries", entries.len()),
        }
    }
    entries
}

#[tokio::test]
async fn ten_thousand_entries_arrive_once_and_in_order_while_every_500th_drops_the_connection() {
    for (format, app, connections) in [
        // Over SSE the server resumes after Last-Event-ID: 20 connections of 500 new entries.
        (StreamFormat::Sse, "flood-sse", 20),
        // NDJSON has no ids: each reconnection replays the last entry's instant, which is
        // skipped, so each later connection brings 499 new entries.
        (StreamFormat::Ndjson, "flood-ndjson", 21),
    ] {
        let emulator = start();
        let client = client(&emulator, Duration::from_secs(10));
        create_app(&client, app).await;
        emulator.inject(
            Operation::GetAppLogs,
            Fault::drop_stream_after(500).always(),
        );
        // Half is there before following starts, half arrives while it runs.
        emulator.emit_logs(app, 5_000).unwrap();
        let mut stream = client
            .follow_logs(app, an_hour_ago())
            .format(format)
            .stream();
        let first = within(30, take(&mut stream, 1)).await;
        emulator.emit_logs(app, 5_000).unwrap();
        let rest = within(60, take(&mut stream, 9_999)).await;

        let mut numbers = page_numbers(&first);
        numbers.extend(page_numbers(&rest));
        // `emit_logs` numbers each batch from 0: the second batch follows the first.
        let expected: Vec<usize> = (0..5_000).chain(0..5_000).collect();
        assert_eq!(numbers.len(), 10_000, "{format:?}");
        assert!(
            numbers == expected,
            "{format:?}: entries lost, repeated or out of order"
        );
        let timestamps: Vec<_> = first
            .iter()
            .chain(&rest)
            .map(|e| e.timestamp.unwrap())
            .collect();
        assert!(
            timestamps.windows(2).all(|w| w[0] < w[1]),
            "{format:?}: timestamps strictly increase"
        );
        assert_eq!(
            emulator.operation_count(Operation::GetAppLogs),
            connections,
            "{format:?}"
        );
    }
}

#[tokio::test]
async fn a_silent_stream_reconnects_after_the_idle_timeout_and_repeats_nothing() {
    for format in [StreamFormat::Sse, StreamFormat::Ndjson] {
        let emulator = start();
        let client = client(&emulator, Duration::from_millis(200));
        create_app(&client, "quiet").await;
        emulator.emit_logs("quiet", 3).unwrap();
        let mut stream = client
            .follow_logs("quiet", an_hour_ago())
            .format(format)
            .stream();
        let before = within(10, take(&mut stream, 3)).await;
        assert_eq!(page_numbers(&before), [0, 1, 2]);

        // Nothing is sent (no keep-alive either): the client gives up on the silent connection
        // and opens another, which resumes after the entries it has.
        let later = async {
            while emulator.operation_count(Operation::GetAppLogs) < 3 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            emulator.emit_logs("quiet", 2).unwrap();
        };
        let (after, ()) = within(20, futures::future::join(take(&mut stream, 2), later)).await;
        assert_eq!(
            page_numbers(&after),
            [0, 1],
            "{format:?}: only the new batch"
        );
        assert!(after[0].timestamp > before[2].timestamp, "{format:?}");
    }
}

#[tokio::test]
async fn a_connection_that_never_answers_is_given_up_and_opened_again() {
    let emulator = start();
    // The wait for headers is bounded by the larger of the idle and request timeouts.
    let client = Client::builder()
        .base_url(emulator.base_url())
        .token(emulator.token())
        .stream_idle_timeout(Duration::from_millis(300))
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    create_app(&client, "stalled").await;
    emulator.emit_logs("stalled", 4).unwrap();
    emulator.inject(Operation::GetAppLogs, Fault::stall());

    let mut stream = client.follow_logs("stalled", an_hour_ago()).stream();
    let entries = within(20, take(&mut stream, 4)).await;
    assert_eq!(page_numbers(&entries), [0, 1, 2, 3]);
    assert_eq!(emulator.operation_count(Operation::GetAppLogs), 2);
}

#[tokio::test]
async fn a_follow_survives_a_reset_503s_and_a_429_in_a_row() {
    for format in [StreamFormat::Sse, StreamFormat::Ndjson] {
        let emulator = start();
        let client = client(&emulator, Duration::from_secs(10));
        create_app(&client, "bumpy").await;
        emulator.emit_logs("bumpy", 6).unwrap();
        // Faults apply in order: a reset mid-body, then three 503s (two are retried within the
        // request, the third makes the stream reconnect), then a 429 that asks for no wait.
        emulator.inject(Operation::GetAppLogs, Fault::reset_mid_body());
        emulator.inject(Operation::GetAppLogs, Fault::status(503).times(3));
        emulator.inject(Operation::GetAppLogs, Fault::rate_limited(0));

        let mut stream = client
            .follow_logs("bumpy", an_hour_ago())
            .format(format)
            .stream();
        let entries = within(20, take(&mut stream, 6)).await;
        assert_eq!(page_numbers(&entries), [0, 1, 2, 3, 4, 5], "{format:?}");
        assert_eq!(
            emulator.operation_count(Operation::GetAppLogs),
            6,
            "{format:?}"
        );
    }
}

#[tokio::test]
async fn a_malformed_entry_ends_the_follow_with_a_decode_error() {
    let emulator = start();
    let client = client(&emulator, Duration::from_secs(10));
    create_app(&client, "garbled").await;
    emulator.emit_logs("garbled", 3).unwrap();
    emulator.inject(Operation::GetAppLogs, Fault::malformed_json());

    let mut stream = client
        .follow_logs("garbled", an_hour_ago())
        .format(StreamFormat::Ndjson)
        .stream();
    let error = within(10, stream.next()).await.unwrap().unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    assert!(error.to_string().contains("line 1"), "{error}");
    assert!(
        within(10, stream.next()).await.is_none(),
        "nothing after the error"
    );
}

#[tokio::test]
async fn a_4xx_ends_the_follow_at_once() {
    let emulator = start();
    let client = client(&emulator, Duration::from_secs(10));
    let mut stream = client.follow_logs("no-such-app", an_hour_ago()).stream();
    let error = within(10, stream.next()).await.unwrap().unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(404));
    assert!(within(10, stream.next()).await.is_none());
    assert_eq!(emulator.operation_count(Operation::GetAppLogs), 1);
}
