//! streamRevisionProgress: SSE and NDJSON framing, the stages, and how a stream ends.
//!
//! Each message is checked against `RevisionProgress`, and error events against `Error`.

use std::time::Duration;

use deno_deploy_emulator::EmulatorConfig;
use serde_json::{json, Value};

use crate::support::{assert_schema, main_ts, Api, SseEvent, StreamReader};

const STAGES: [&str; 4] = ["queued", "preparing", "installing", "building"];

/// How far a progress state has come: finished stages count 2, a running one 1.
fn advancement(progress: &Value) -> usize {
    let mut score = 0;
    for stage in STAGES
        .iter()
        .map(|s| &progress[*s])
        .chain([&progress["deploying"]])
    {
        score += match stage["status"].as_str().unwrap() {
            "succeeded" | "failed" | "skipped" => 2,
            "running" => 1,
            _ => 0,
        };
    }
    score
}

async fn sse_until_end(reader: &mut StreamReader) -> (Vec<Value>, SseEvent) {
    let mut messages = Vec::new();
    loop {
        let event = reader
            .next_event()
            .await
            .expect("an end event before the stream ends");
        if event.comment.is_some() {
            continue;
        }
        if event.event != "message" {
            return (messages, event);
        }
        let progress = event.json();
        assert_schema("RevisionProgress", &progress);
        messages.push(progress);
    }
}

#[tokio::test]
async fn progress_over_sse_moves_through_every_stage_and_then_says_done() {
    let api = Api::with(EmulatorConfig::default().build_delay(Duration::from_millis(25)));
    api.create_app(json!({"slug": "progress"})).await;
    let revision = api.deploy("progress", json!({"assets": main_ts()})).await;
    let id = revision["id"].as_str().unwrap();
    let response = api
        .open(
            &format!("/revisions/{id}/progress"),
            Some("text/event-stream"),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut reader = StreamReader::new(response);
    let (messages, end) = sse_until_end(&mut reader).await;
    assert_eq!(end.event, "done");
    assert!(
        reader.next_event().await.is_none(),
        "the stream ends after done"
    );
    assert!(!messages.is_empty());
    for pair in messages.windows(2) {
        assert!(
            advancement(&pair[0]) < advancement(&pair[1]),
            "each message is a change"
        );
    }
    let last = messages.last().unwrap();
    for stage in STAGES {
        assert_eq!(last[stage]["status"], "succeeded", "{stage}");
        assert!(last[stage]["started_at"].as_str() <= last[stage]["finished_at"].as_str());
    }
    assert_eq!(last["deploying"]["status"], "succeeded");
    let regions: Vec<&str> = last["deploying"]["timelines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["status"], "succeeded");
            assert!(t["finished_at"].is_string());
            t["region"].as_str().unwrap()
        })
        .collect();
    assert_eq!(regions, deno_deploy_emulator::REGIONS);
    api.wait_for_status(id, "succeeded").await;
}

#[tokio::test]
async fn progress_over_ndjson_is_one_revision_progress_per_line() {
    let api = Api::start();
    api.create_app(json!({"slug": "ndjson"})).await;
    let revision = api.deploy("ndjson", json!({"assets": main_ts()})).await;
    let id = revision["id"].as_str().unwrap();
    let response = api
        .open(
            &format!("/revisions/{id}/progress"),
            Some("application/x-ndjson"),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let mut reader = StreamReader::new(response);
    let mut last = Value::Null;
    while let Some(line) = reader.next_line().await {
        if line.is_empty() {
            continue;
        }
        let progress: Value = serde_json::from_str(&line).unwrap();
        assert_schema("RevisionProgress", &progress);
        last = progress;
    }
    assert_eq!(last["deploying"]["status"], "succeeded");
    assert_eq!(last["building"]["status"], "succeeded");
}

#[tokio::test]
async fn a_finished_revision_replays_its_final_state_and_ends() {
    let api = Api::start();
    api.create_app(json!({"slug": "finished"})).await;
    let revision = api.deploy("finished", json!({"assets": main_ts()})).await;
    let id = revision["id"].as_str().unwrap();
    api.wait_for_status(id, "succeeded").await;
    for accept in [None, Some("*/*")] {
        let response = api.open(&format!("/revisions/{id}/progress"), accept).await;
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let mut reader = StreamReader::new(response);
        let (messages, end) = sse_until_end(&mut reader).await;
        assert_eq!(messages.len(), 1, "only the final state");
        assert_eq!(messages[0]["deploying"]["status"], "succeeded");
        assert_eq!(end.event, "done");
        assert_eq!(end.data, "{}");
    }
}

#[tokio::test]
async fn a_failed_build_ends_the_sse_stream_with_an_error_event() {
    let api = Api::start();
    api.create_app(json!({"slug": "broken"})).await;
    let revision = api
        .deploy(
            "broken",
            json!({"assets": {"README.md": {"kind": "file", "encoding": "utf-8", "content": "#"}}}),
        )
        .await;
    let id = revision["id"].as_str().unwrap();
    let response = api
        .open(
            &format!("/revisions/{id}/progress"),
            Some("text/event-stream"),
        )
        .await;
    let mut reader = StreamReader::new(response);
    let (messages, end) = sse_until_end(&mut reader).await;
    assert_eq!(end.event, "error");
    let error = end.json();
    assert_schema("Error", &error);
    assert_eq!(error["code"], "entrypoint_not_found");
    assert_eq!(
        error["error"],
        "the entrypoint `main.ts` is not among the deployed assets"
    );
    let last = messages.last().unwrap();
    assert_eq!(last["building"]["status"], "failed");
    assert_eq!(last["deploying"]["status"], "skipped");
    assert_eq!(last["installing"]["status"], "succeeded");
}

#[tokio::test]
async fn a_cancelled_build_streams_its_cancellation() {
    let api = Api::with(EmulatorConfig::default().build_delay(Duration::from_secs(3600)));
    api.create_app(json!({"slug": "stream-cancel"})).await;
    let revision = api
        .deploy("stream-cancel", json!({"assets": main_ts()}))
        .await;
    let id = revision["id"].as_str().unwrap();
    let response = api
        .open(
            &format!("/revisions/{id}/progress"),
            Some("text/event-stream"),
        )
        .await;
    let mut reader = StreamReader::new(response);
    let first = reader.next_event().await.unwrap().json();
    assert_schema("RevisionProgress", &first);
    assert_eq!(first["queued"]["status"], "running");
    assert_eq!(first["preparing"]["status"], "pending");
    assert_eq!(first["deploying"]["timelines"][0]["status"], "pending");
    api.post(&format!("/revisions/{id}/cancel"), json!({}))
        .await
        .ok(200, "Revision");
    let (messages, end) = sse_until_end(&mut reader).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["queued"]["status"], "failed");
    assert_eq!(messages[0]["building"]["status"], "skipped");
    assert_eq!(end.event, "error");
    assert_eq!(end.json()["code"], "revision_cancelled");
}

#[tokio::test]
async fn deleting_a_revision_mid_stream_ends_the_stream_with_an_error_event() {
    let api = Api::with(EmulatorConfig::default().build_delay(Duration::from_secs(3600)));
    api.create_app(json!({"slug": "stream-delete"})).await;
    let revision = api
        .deploy(
            "stream-delete",
            json!({"assets": main_ts(), "production": false}),
        )
        .await;
    let id = revision["id"].as_str().unwrap();
    let response = api
        .open(
            &format!("/revisions/{id}/progress"),
            Some("text/event-stream"),
        )
        .await;
    let mut reader = StreamReader::new(response);
    assert_eq!(reader.next_event().await.unwrap().event, "message");
    assert_eq!(api.delete(&format!("/revisions/{id}")).await.status, 204);
    let (messages, end) = sse_until_end(&mut reader).await;
    assert!(messages.is_empty());
    assert_eq!(end.event, "error");
    assert_schema("Error", &end.json());
    assert_eq!(end.json()["code"], "revision_not_found");
    assert!(reader.next_event().await.is_none());
}

#[tokio::test]
async fn accept_is_matched_case_insensitively_and_q_zero_refuses_a_format() {
    let api = Api::start();
    api.create_app(json!({"slug": "accept"})).await;
    let revision = api.deploy("accept", json!({"assets": main_ts()})).await;
    let id = revision["id"].as_str().unwrap();
    let path = format!("/revisions/{id}/progress");
    for (accept, expected) in [
        (
            "Application/X-NDJSON; charset=utf-8",
            "application/x-ndjson",
        ),
        ("TEXT/EVENT-STREAM;q=0.5", "text/event-stream"),
        ("text/html, application/x-ndjson", "application/x-ndjson"),
    ] {
        let response = api.open(&path, Some(accept)).await;
        assert_eq!(response.status(), 200, "{accept}");
        assert_eq!(response.headers()["content-type"], expected, "{accept}");
    }
    let reply = crate::support::Reply::read(api.open(&path, Some("application/json")).await).await;
    let message = reply.error(406, "not_acceptable");
    assert!(message.contains("text/event-stream"), "{message}");
    let refused = "text/event-stream;q=0, application/x-ndjson;q=0";
    let reply = crate::support::Reply::read(api.open(&path, Some(refused)).await).await;
    let message = reply.error(406, "not_acceptable");
    assert_eq!(
        message,
        format!("Accept `{refused}` matches nothing served here; ask for text/event-stream or application/x-ndjson")
    );
    let response = api.open(&path, Some("text/event-stream;q=0, */*")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
}

#[tokio::test]
async fn an_idle_progress_stream_sends_keepalives() {
    let api = Api::with(
        EmulatorConfig::default()
            .build_delay(Duration::from_secs(3600))
            .keepalive(Duration::from_millis(20)),
    );
    api.create_app(json!({"slug": "idle"})).await;
    let revision = api.deploy("idle", json!({"assets": main_ts()})).await;
    let id = revision["id"].as_str().unwrap();
    let response = api
        .open(
            &format!("/revisions/{id}/progress"),
            Some("text/event-stream"),
        )
        .await;
    let mut reader = StreamReader::new(response);
    let first = reader.next_event().await.unwrap();
    assert_eq!(first.event, "message");
    let second = reader.next_event().await.unwrap();
    assert_eq!(second.comment.as_deref(), Some("keepalive"));
}
