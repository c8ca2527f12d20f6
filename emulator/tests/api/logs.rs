//! getAppLogs: pages with `end`, live streams without it, filters, cursors and keep-alives.
//!
//! Entries come from builds (a boot line per region) and from the library's `emit_logs` and
//! `push_log`; pages are checked against `RuntimeLogsResponse`, stream items against
//! `RuntimeLogEntry`.

use std::time::Duration;

use deno_deploy_emulator::{EmulatorConfig, LogEntry, LogLevel, REGIONS};
use serde_json::{json, Value};

use crate::support::{assert_schema, main_ts, Api, StreamReader};

const EPOCH: &str = "2000-01-01T00:00:00Z";
const FAR: &str = "2999-01-01T00:00:00Z";

fn messages(page: &Value) -> Vec<String> {
    page["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect()
}

fn encoded(at: &str) -> String {
    at.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn a_succeeded_revision_logs_a_boot_line_per_region() {
    let api = Api::start();
    api.create_app(json!({"slug": "booted"})).await;
    let revision = api.deploy("booted", json!({"assets": main_ts()})).await;
    let id = revision["id"].as_str().unwrap();
    api.wait_for_status(id, "succeeded").await;
    let page = api
        .get(&format!("/apps/booted/logs?start={EPOCH}&end={FAR}"))
        .await
        .ok(200, "RuntimeLogsResponse");
    let logs = page["logs"].as_array().unwrap();
    assert_eq!(logs.len(), REGIONS.len());
    for (entry, region) in logs.iter().zip(REGIONS) {
        assert_eq!(entry["level"], "info");
        assert_eq!(entry["region"], region);
        assert_eq!(entry["revision_id"], id);
        assert!(entry["message"].as_str().unwrap().contains("Listening on"));
        assert!(entry["timestamp"].is_string());
    }
    assert!(page.get("cursor").is_none(), "one page only");
}

#[tokio::test]
async fn the_query_parameters_of_logs_are_validated() {
    let api = Api::start();
    api.create_app(json!({"slug": "log-params"})).await;
    let message = api
        .get("/apps/log-params/logs")
        .await
        .error(400, "missing_parameter");
    assert!(message.starts_with("start is required"), "{message}");
    let message = api
        .get("/apps/log-params/logs?start=yesterday")
        .await
        .error(400, "invalid_query");
    assert!(
        message.starts_with("start must be an RFC 3339 date-time"),
        "{message}"
    );
    api.get(&format!(
        "/apps/log-params/logs?start={EPOCH}&end=2020-13-01T00:00:00Z"
    ))
    .await
    .error(400, "invalid_query");
    let message = api
        .get(&format!("/apps/log-params/logs?start={FAR}&end={EPOCH}"))
        .await
        .error(400, "invalid_time_range");
    assert_eq!(message, "end must not be before start");
    let message = api
        .get(&format!(
            "/apps/log-params/logs?start={EPOCH}&end={FAR}&level=fatal"
        ))
        .await
        .error(400, "invalid_query");
    assert_eq!(
        message,
        "level must be one of debug, info, warn, error, not `fatal`"
    );
    api.get(&format!(
        "/apps/log-params/logs?start={EPOCH}&end={FAR}&cursor=xyz"
    ))
    .await
    .error(400, "invalid_cursor");
    let offset = api
        .get(&format!(
            "/apps/log-params/logs?start={}&end={FAR}",
            encoded("2000-01-01T01:00:00+01:00")
        ))
        .await
        .ok(200, "RuntimeLogsResponse");
    assert_eq!(offset["logs"], json!([]));
}

#[tokio::test]
async fn historical_logs_page_through_cursors() {
    let api = Api::start();
    api.create_app(json!({"slug": "paged"})).await;
    api.emulator.emit_logs("paged", 5).unwrap();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/apps/paged/logs?start={EPOCH}&end={FAR}&limit=2");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = api.get(&path).await.ok(200, "RuntimeLogsResponse");
        pages += 1;
        seen.extend(messages(&page));
        match page.get("cursor") {
            Some(c) => cursor = Some(c.as_str().unwrap().to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..5).map(|n| format!("GET /page/{n} 200")).collect();
    assert_eq!(seen, expected);
    let default_limit = api
        .get(&format!("/apps/paged/logs?start={EPOCH}&end={FAR}"))
        .await
        .ok(200, "RuntimeLogsResponse");
    assert_eq!(default_limit["logs"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn logs_filter_by_level_revision_and_query() {
    let api = Api::start();
    api.create_app(json!({"slug": "filters"})).await;
    let revision = api.deploy("filters", json!({"assets": main_ts()})).await;
    let id = revision["id"].as_str().unwrap();
    api.wait_for_status(id, "succeeded").await;
    let logs = &api.emulator;
    logs.push_log("filters", LogEntry::new(LogLevel::Warn, "Disk almost FULL"))
        .unwrap();
    logs.push_log(
        "filters",
        LogEntry::new(LogLevel::Error, "boom").region("europe-west"),
    )
    .unwrap();
    logs.push_log(
        "filters",
        LogEntry::new(LogLevel::Debug, "elsewhere").revision("rev_other"),
    )
    .unwrap();
    let base = format!("/apps/filters/logs?start={EPOCH}&end={FAR}");
    let by_level = api
        .get(&format!("{base}&level=error"))
        .await
        .ok(200, "RuntimeLogsResponse");
    assert_eq!(messages(&by_level), ["boom"]);
    assert_eq!(by_level["logs"][0]["region"], "europe-west");
    assert_eq!(by_level["logs"][0]["revision_id"], id);
    let by_revision = api
        .get(&format!("{base}&revision_id=rev_other"))
        .await
        .ok(200, "RuntimeLogsResponse");
    assert_eq!(messages(&by_revision), ["elsewhere"]);
    let by_query = api
        .get(&format!("{base}&query=full"))
        .await
        .ok(200, "RuntimeLogsResponse");
    assert_eq!(messages(&by_query), ["Disk almost FULL"]);
    let combined = api
        .get(&format!(
            "{base}&revision_id={id}&level=info&query=europe-west"
        ))
        .await
        .ok(200, "RuntimeLogsResponse");
    assert_eq!(combined["logs"].as_array().unwrap().len(), 1);
    assert_eq!(combined["logs"][0]["region"], "europe-west");
}

#[tokio::test]
async fn start_is_inclusive_and_end_is_exclusive() {
    let api = Api::start();
    api.create_app(json!({"slug": "range"})).await;
    api.emulator.emit_logs("range", 3).unwrap();
    let all = api
        .get(&format!("/apps/range/logs?start={EPOCH}&end={FAR}"))
        .await
        .ok(200, "RuntimeLogsResponse");
    let stamps: Vec<String> = all["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["timestamp"].as_str().unwrap().to_owned())
        .collect();
    assert!(stamps[0] < stamps[1] && stamps[1] < stamps[2], "{stamps:?}");
    let middle = api
        .get(&format!(
            "/apps/range/logs?start={}&end={}",
            encoded(&stamps[1]),
            encoded(&stamps[2])
        ))
        .await
        .ok(200, "RuntimeLogsResponse");
    assert_eq!(messages(&middle), ["GET /page/1 200"]);
    let empty = api
        .get(&format!(
            "/apps/range/logs?start={}&end={}",
            encoded(&stamps[1]),
            encoded(&stamps[1])
        ))
        .await
        .ok(200, "RuntimeLogsResponse");
    assert_eq!(empty["logs"], json!([]));
}

#[tokio::test]
async fn a_log_stream_over_sse_replays_from_start_then_follows_live() {
    let api = Api::start();
    api.create_app(json!({"slug": "live"})).await;
    api.emulator.emit_logs("live", 2).unwrap();
    let response = api
        .open(
            &format!("/apps/live/logs?start={EPOCH}"),
            Some("text/event-stream"),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut reader = StreamReader::new(response);
    let mut ids = Vec::new();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let event = reader.next_event().await.unwrap();
        assert_eq!(event.event, "message");
        assert_schema("RuntimeLogEntry", &event.json());
        ids.push(
            event
                .id
                .clone()
                .expect("an id per entry")
                .parse::<u64>()
                .unwrap(),
        );
        seen.push(event.json()["message"].clone());
    }
    api.emulator
        .push_log("live", LogEntry::new(LogLevel::Warn, "arrived later"))
        .unwrap();
    let live = reader.next_event().await.unwrap();
    assert_schema("RuntimeLogEntry", &live.json());
    assert_eq!(live.json()["message"], "arrived later");
    assert_eq!(live.json()["level"], "warn");
    ids.push(live.id.unwrap().parse().unwrap());
    assert!(ids[0] < ids[1] && ids[1] < ids[2], "{ids:?}");
    assert_eq!(seen, ["GET /page/0 200", "GET /page/1 200"]);
}

#[tokio::test]
async fn a_log_stream_over_ndjson_follows_with_filters() {
    let api = Api::start();
    api.create_app(json!({"slug": "ndjson-logs"})).await;
    api.emulator
        .push_log("ndjson-logs", LogEntry::new(LogLevel::Info, "quiet"))
        .unwrap();
    let response = api
        .open(
            &format!("/apps/ndjson-logs/logs?start={EPOCH}&level=error"),
            Some("application/x-ndjson"),
        )
        .await;
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let mut reader = StreamReader::new(response);
    api.emulator
        .push_log("ndjson-logs", LogEntry::new(LogLevel::Info, "still quiet"))
        .unwrap();
    api.emulator
        .push_log("ndjson-logs", LogEntry::new(LogLevel::Error, "loud"))
        .unwrap();
    let line = reader.next_line().await.unwrap();
    let entry: Value = serde_json::from_str(&line).unwrap();
    assert_schema("RuntimeLogEntry", &entry);
    assert_eq!(entry["message"], "loud");
}

#[tokio::test]
async fn idle_log_streams_send_keepalives_in_both_formats() {
    let api = Api::with(EmulatorConfig::default().keepalive(Duration::from_millis(20)));
    api.create_app(json!({"slug": "idle-logs"})).await;
    let sse = api
        .open(
            &format!("/apps/idle-logs/logs?start={EPOCH}"),
            Some("text/event-stream"),
        )
        .await;
    let mut reader = StreamReader::new(sse);
    let event = reader.next_event().await.unwrap();
    assert_eq!(event.comment.as_deref(), Some("keepalive"));
    assert_eq!(event.data, "");
    let ndjson = api
        .open(
            &format!("/apps/idle-logs/logs?start={EPOCH}"),
            Some("application/x-ndjson"),
        )
        .await;
    let mut reader = StreamReader::new(ndjson);
    assert_eq!(reader.next_line().await.unwrap(), "");
}

#[tokio::test]
async fn a_log_stream_resumes_after_the_last_event_id() {
    let api = Api::start();
    api.create_app(json!({"slug": "resume"})).await;
    api.emulator.emit_logs("resume", 3).unwrap();
    let response = api
        .open(
            &format!("/apps/resume/logs?start={EPOCH}"),
            Some("text/event-stream"),
        )
        .await;
    let mut reader = StreamReader::new(response);
    let first = reader.next_event().await.unwrap();
    drop(reader);
    let resumed = api
        .request(
            reqwest::Method::GET,
            &format!("/apps/resume/logs?start={EPOCH}"),
        )
        .header("accept", "text/event-stream")
        .header("last-event-id", first.id.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    let mut reader = StreamReader::new(resumed);
    let next = reader.next_event().await.unwrap();
    assert_eq!(next.json()["message"], "GET /page/1 200");
}

#[tokio::test]
async fn accept_json_without_end_answers_a_page_up_to_now() {
    let api = Api::start();
    api.create_app(json!({"slug": "json-now"})).await;
    api.emulator.emit_logs("json-now", 3).unwrap();
    let page = api
        .send(
            api.request(
                reqwest::Method::GET,
                &format!("/apps/json-now/logs?start={EPOCH}&limit=2"),
            )
            .header("accept", "application/json"),
        )
        .await
        .ok(200, "RuntimeLogsResponse");
    assert_eq!(messages(&page), ["GET /page/0 200", "GET /page/1 200"]);
    assert!(page["cursor"].is_string());
}

#[tokio::test]
async fn log_queries_negotiate_accept_like_the_progress_stream() {
    let api = Api::start();
    api.create_app(json!({"slug": "accept-logs"})).await;
    api.emulator.emit_logs("accept-logs", 1).unwrap();
    let get = |query: String, accept: &'static str| {
        api.send(
            api.request(
                reqwest::Method::GET,
                &format!("/apps/accept-logs/logs?{query}"),
            )
            .header("accept", accept),
        )
    };
    let bounded = format!("start={EPOCH}&end=2999-01-01T00:00:00Z");
    let live = format!("start={EPOCH}");

    // A bounded query serves its JSON page to anything that accepts JSON, and nothing else.
    let page = get(bounded.clone(), "*/*")
        .await
        .ok(200, "RuntimeLogsResponse");
    assert_eq!(messages(&page), ["GET /page/0 200"]);
    let message = get(bounded.clone(), "application/xml")
        .await
        .error(406, "not_acceptable");
    assert_eq!(
        message,
        "Accept `application/xml` matches nothing served here; ask for application/json"
    );
    get(bounded, "application/json;q=0, */*")
        .await
        .error(406, "not_acceptable");

    // A live query refuses what q=0 refuses, and serves what is left.
    get(live.clone(), "application/xml")
        .await
        .error(406, "not_acceptable");
    get(
        live.clone(),
        "text/event-stream;q=0, application/x-ndjson;q=0, application/json;q=0",
    )
    .await
    .error(406, "not_acceptable");
    let page = get(live, "text/event-stream;q=0, application/json")
        .await
        .ok(200, "RuntimeLogsResponse");
    assert_eq!(messages(&page), ["GET /page/0 200"]);
}

#[tokio::test]
async fn a_log_stream_ends_when_its_app_is_deleted() {
    let api = Api::start();
    api.create_app(json!({"slug": "gone-logs"})).await;
    let response = api
        .open(
            &format!("/apps/gone-logs/logs?start={EPOCH}"),
            Some("text/event-stream"),
        )
        .await;
    let mut reader = StreamReader::new(response);
    assert_eq!(api.delete("/apps/gone-logs").await.status, 204);
    assert!(reader.next_event().await.is_none());
    assert!(api.emulator.emit_logs("gone-logs", 1).is_err());
}
