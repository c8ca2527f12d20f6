//! Fault injection through the library API: statuses, Retry-After, latency, resets, dropped
//! streams, stalls and malformed bodies, each limited to its target and its count.
//!
//! Timing is only ever checked as a lower bound, never as an upper one.

use std::time::{Duration, Instant};

use deno_deploy_emulator::{EmulatorConfig, Fault, FaultTarget, Operation};
use serde_json::json;

use crate::support::{Api, StreamReader};

#[tokio::test]
async fn an_injected_503_answers_the_next_requests_of_its_operation_then_stops() {
    let api = Api::start();
    api.create_app(json!({"slug": "flaky"})).await;
    api.emulator
        .inject(Operation::GetApp, Fault::status(503).times(2));
    api.get("/apps").await.list("AppListItem");
    for _ in 0..2 {
        let message = api
            .get("/apps/flaky")
            .await
            .error(503, "service_unavailable");
        assert_eq!(message, "injected fault: 503 Service Unavailable");
    }
    api.get("/apps/flaky").await.ok(200, "App");
    assert_eq!(api.emulator.operation_count(Operation::GetApp), 3);
    assert_eq!(api.emulator.operation_count(Operation::ListApps), 1);
}

#[tokio::test]
async fn a_rate_limit_answers_429_with_retry_after() {
    let api = Api::start();
    api.emulator
        .inject(FaultTarget::Any, Fault::rate_limited(7));
    let reply = api.get("/apps").await;
    assert_eq!(reply.header("retry-after"), "7");
    reply.error(429, "rate_limited");
    api.emulator
        .inject(Operation::CreateApp, Fault::status(502).retry_after(1));
    let reply = api.post("/apps", json!({})).await;
    assert_eq!(reply.header("retry-after"), "1");
    reply.error(502, "bad_gateway");
    api.post("/apps", json!({})).await.ok(200, "App");
}

#[tokio::test]
async fn latency_delays_the_answer_but_not_its_content() {
    let api = Api::start();
    api.emulator.inject(
        Operation::ListApps,
        Fault::latency(Duration::from_millis(150)),
    );
    let started = Instant::now();
    api.get("/apps").await.list("AppListItem");
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn a_reset_mid_body_breaks_the_answer_after_its_headers() {
    let api = Api::start();
    api.create_app(json!({"slug": "reset"})).await;
    api.emulator
        .inject(Operation::GetApp, Fault::reset_mid_body());
    let response = api
        .request(reqwest::Method::GET, "/apps/reset")
        .send()
        .await
        .expect("the headers arrive");
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.is_err(), "the body breaks off");
    api.get("/apps/reset").await.ok(200, "App");
}

#[tokio::test]
async fn a_stream_dropped_after_n_events_breaks_after_them() {
    let api = Api::start();
    api.create_app(json!({"slug": "dropped"})).await;
    api.emulator.emit_logs("dropped", 5).unwrap();
    api.emulator
        .inject(Operation::GetAppLogs, Fault::drop_stream_after(2));
    let response = api
        .open(
            "/apps/dropped/logs?start=2000-01-01T00:00:00Z",
            Some("text/event-stream"),
        )
        .await;
    let mut reader = StreamReader::new(response);
    let broke = loop {
        match reader.try_chunk().await {
            Ok(Some(_)) => {}
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(broke, "the stream breaks instead of ending");
    assert_eq!(reader.buffered().matches("event: message\n").count(), 2);
    assert!(reader.buffered().ends_with("\n\n"), "whole events only");
}

#[tokio::test]
async fn a_stall_never_answers() {
    let api = Api::start();
    api.emulator.inject(Operation::ListApps, Fault::stall());
    let error = api
        .request(reqwest::Method::GET, "/apps")
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .expect_err("no answer");
    assert!(error.is_timeout(), "{error}");
    api.get("/apps").await.list("AppListItem");
}

#[tokio::test]
async fn a_malformed_json_body_does_not_parse() {
    let api = Api::start();
    api.emulator
        .inject(Operation::CreateApp, Fault::malformed_json());
    let response = api
        .request(reqwest::Method::POST, "/apps")
        .json(&json!({"slug": "half"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).is_err(),
        "{text}"
    );
    assert!(text.starts_with('{'), "{text}");
    api.get("/apps/half").await.ok(200, "App");
}

#[tokio::test]
async fn always_faults_last_until_cleared() {
    let api = Api::start();
    api.emulator
        .inject(Operation::ListApps, Fault::status(500).always());
    for _ in 0..3 {
        api.get("/apps").await.error(500, "internal_error");
    }
    api.emulator.clear_faults();
    api.get("/apps").await.list("AppListItem");
}

#[tokio::test]
async fn a_fault_for_zero_requests_applies_to_none() {
    let api = Api::start();
    api.emulator
        .inject(Operation::ListApps, Fault::status(503).times(0));
    api.emulator.inject(Operation::ListApps, Fault::status(502));
    // The first rule is spent before it starts: the second one answers.
    api.get("/apps").await.error(502, "bad_gateway");
    api.get("/apps").await.list("AppListItem");
}

#[tokio::test]
async fn faults_in_the_config_apply_from_the_first_request() {
    let api = Api::with(EmulatorConfig::default().fault(FaultTarget::Any, Fault::status(504)));
    api.get("/apps").await.error(504, "gateway_timeout");
    api.get("/apps").await.list("AppListItem");
    assert_eq!(api.emulator.request_count(), 2);
}

#[tokio::test]
async fn a_malformed_fault_on_a_stream_garbles_its_first_event_only() {
    let api = Api::start();
    api.create_app(json!({"slug": "garbled"})).await;
    api.emulator.emit_logs("garbled", 2).unwrap();
    api.emulator
        .inject(Operation::GetAppLogs, Fault::malformed_json());
    let response = api
        .open(
            "/apps/garbled/logs?start=2000-01-01T00:00:00Z",
            Some("text/event-stream"),
        )
        .await;
    let mut reader = StreamReader::new(response);
    let first = reader.next_event().await.unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&first.data).is_err(),
        "{}",
        first.data
    );
    let second = reader.next_event().await.unwrap();
    assert_eq!(second.json()["message"], "GET /page/1 200");
}

#[tokio::test]
async fn a_status_after_the_operation_makes_the_change_and_still_answers_the_error() {
    let api = Api::start();
    api.emulator
        .inject(Operation::CreateApp, Fault::status(502).after_operation());
    api.post("/apps", json!({"slug": "made-anyway"}))
        .await
        .error(502, "bad_gateway");
    // The app exists: the gateway lost the answer, not the change.
    api.get("/apps/made-anyway").await.ok(200, "App");
    api.post("/apps", json!({"slug": "made-anyway"}))
        .await
        .error(409, "slug_taken");
}

#[tokio::test]
async fn a_stream_drop_that_always_applies_breaks_every_connection_after_n_events() {
    let api = Api::start();
    api.create_app(json!({"slug": "redropped"})).await;
    api.emulator.emit_logs("redropped", 7).unwrap();
    api.emulator
        .inject(Operation::GetAppLogs, Fault::drop_stream_after(3).always());
    for _ in 0..3 {
        let response = api
            .open(
                "/apps/redropped/logs?start=2000-01-01T00:00:00Z",
                Some("application/x-ndjson"),
            )
            .await;
        let mut reader = StreamReader::new(response);
        while let Ok(Some(_)) = reader.try_chunk().await {}
        assert_eq!(reader.buffered().lines().count(), 3);
    }
    assert_eq!(api.emulator.operation_count(Operation::GetAppLogs), 3);
}

#[tokio::test]
async fn connections_are_counted_once_however_many_requests_they_carry() {
    let api = Api::start();
    assert_eq!(api.emulator.connection_count(), 0);
    for _ in 0..5 {
        api.get("/apps").await.list("AppListItem");
    }
    assert_eq!(api.emulator.request_count(), 5);
    // One client, one request at a time: its pooled connection carries all of them.
    assert_eq!(api.emulator.connection_count(), 1);
}
