//! Progress and log streams against a scripted server that sends the tricky bytes: events split
//! at every byte, early ends, stalls, keep-alives, other media types.

mod support;

use std::time::Duration;

use deno_deploy::{
    ext::{Stage, StreamFormat},
    types, Error,
};
use futures::StreamExt;
use support::{within, Reply, Server, Step};

const SSE: &str = "text/event-stream";
const NDJSON: &str = "application/x-ndjson";

fn progress_body() -> String {
    [
        r#"{"queued":{"status":"succeeded"}}"#,
        r#"{"queued":{"status":"succeeded"},"building":{"status":"running"}}"#,
        r#"{"queued":{"status":"succeeded"},"building":{"status":"succeeded"},"deploying":{"status":"succeeded","timelines":[{"region":"us-east","status":"succeeded"}]}}"#,
    ]
    .iter()
    .map(|json| format!("event: message\r\ndata: {json}\r\n\r\n"))
    .chain(std::iter::once(": keepalive\n\nevent: done\ndata: {}\n\n".to_owned()))
    .collect()
}

async fn collect_progress(
    server: &Server,
    format: StreamFormat,
) -> Vec<Result<types::RevisionProgress, Error>> {
    let client = server.client();
    within(
        10,
        client
            .revision_progress("rev_1")
            .format(format)
            .stream()
            .collect(),
    )
    .await
}

fn building_status(progress: &types::RevisionProgress) -> Option<String> {
    progress
        .building
        .as_ref()
        .and_then(|b| b.status.as_ref().map(|s| s.to_string()))
}

#[tokio::test]
async fn progress_split_at_every_byte_yields_the_same_reports() {
    let body = progress_body();
    for split in 1..body.len() {
        let (head, tail) = body.as_bytes().split_at(split);
        let server = Server::start([Reply::new(200)
            .header("content-type", SSE)
            .chunks([head, tail])])
        .await;
        let items = collect_progress(&server, StreamFormat::Sse).await;
        assert_eq!(items.len(), 3, "split at {split}: {items:?}");
        let items: Vec<_> = items.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            building_status(&items[1]).as_deref(),
            Some("running"),
            "split at {split}"
        );
        assert!(deno_deploy::ext::streams::is_finished(&items[2]));
    }
}

#[tokio::test]
async fn progress_byte_by_byte_and_the_request_asks_for_sse() {
    let body = progress_body();
    let chunks: Vec<Vec<u8>> = body.bytes().map(|b| vec![b]).collect();
    let server = Server::start([Reply::new(200).header("content-type", SSE).chunks(chunks)]).await;
    let items = collect_progress(&server, StreamFormat::Sse).await;
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(Result::is_ok));
    let seen = &server.seen()[0];
    assert_eq!(seen.target, "/v2/revisions/rev_1/progress");
    assert_eq!(seen.header("accept"), Some(SSE));
    assert_eq!(seen.header("authorization"), Some("Bearer ddo_test_token"));
}

#[tokio::test]
async fn a_failed_stage_then_end_of_stream_is_an_error_naming_the_stage() {
    let server = Server::start([Reply::new(200)
        .header("content-type", SSE)
        .chunk("event: message\ndata: {\"queued\":{\"status\":\"failed\"}}\n\n")])
    .await;
    let items = collect_progress(&server, StreamFormat::Sse).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items[0].is_ok());
    match &items[1] {
        Err(Error::RevisionFailed { reason, .. }) => {
            assert_eq!(reason, "the build failed in the queued stage")
        }
        other => panic!("expected RevisionFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failed_stage_ends_the_stream_even_when_the_server_keeps_it_open() {
    let server = Server::start([Reply::new(200)
        .header("content-type", SSE)
        .chunk("data: {\"building\":{\"status\":\"failed\"}}\n\n")
        .step(Step::Hold)])
    .await;
    let items = collect_progress(&server, StreamFormat::Sse).await;
    assert!(
        matches!(items.last(), Some(Err(Error::RevisionFailed { reason, .. })) if reason.contains("building"))
    );
}

#[tokio::test]
async fn an_error_event_carries_the_server_message() {
    let server = Server::start([Reply::new(200)
        .header("content-type", SSE)
        .chunk("event: error\ndata: {\"error\":\"entrypoint main.ts not found\",\"code\":\"build_failed\"}\n\n")])
    .await;
    let items = collect_progress(&server, StreamFormat::Sse).await;
    match &items[..] {
        [Err(Error::RevisionFailed { reason, .. })] => {
            assert_eq!(reason, "entrypoint main.ts not found")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_connection_closed_before_done_is_an_error_not_success() {
    let server = Server::start([Reply::new(200)
        .header("content-type", SSE)
        .chunk("event: message\ndata: {\"queued\":{\"status\":\"running\"}}\n\n")])
    .await;
    let items = collect_progress(&server, StreamFormat::Sse).await;
    assert_eq!(items.len(), 2);
    assert!(
        matches!(&items[1], Err(Error::Stream(m)) if m.contains("ended before the build finished"))
    );

    let cut = Server::start([Reply::new(200)
        .header("content-type", SSE)
        .chunk("event: message\ndata: {\"queued\":")
        .step(Step::Abort)])
    .await;
    let items = collect_progress(&cut, StreamFormat::Sse).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert!(matches!(&items[0], Err(Error::Stream(_))), "{items:?}");
}

#[tokio::test]
async fn ndjson_progress_ends_after_the_deploy_finishes_and_sends_its_accept() {
    let lines = [
        "{\"queued\":{\"status\":\"succeeded\"}}\r\n",
        "\n",
        "{\"deploying\":{\"status\":\"running\"}}\n",
        "{\"deploying\":{\"status\":\"succeeded\"}}\n",
    ];
    let server = Server::start([Reply::new(200)
        .header("content-type", NDJSON)
        .chunks(lines)
        .step(Step::Hold)])
    .await;
    let items = collect_progress(&server, StreamFormat::Ndjson).await;
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(items.iter().all(Result::is_ok));
    assert_eq!(server.seen()[0].header("accept"), Some(NDJSON));
}

#[tokio::test]
async fn the_parser_follows_the_media_type_of_the_response() {
    // Asked for SSE, answered NDJSON with parameters and odd case.
    let server = Server::start([Reply::new(200)
        .header("content-type", "Application/X-NDJSON; charset=utf-8")
        .chunk("{\"deploying\":{\"status\":\"succeeded\"}}\n")])
    .await;
    let items = collect_progress(&server, StreamFormat::Sse).await;
    assert_eq!(items.len(), 1);
    assert!(items[0].is_ok());
}

#[tokio::test]
async fn each_event_is_yielded_as_soon_as_its_last_byte_arrives() {
    let server = Server::start([Reply::new(200)
        .header("content-type", SSE)
        .chunk("data: {\"queued\":{\"status\":\"running\"}}\n\n")
        .step(Step::Hold)
        .chunk("event: done\ndata: {}\n\n")])
    .await;
    let client = server.client();
    let mut stream = client.revision_progress("rev_1").stream();
    // The server is holding the rest: the first report must come without it.
    let first = within(5, stream.next()).await;
    assert!(matches!(first, Some(Ok(_))));
    server.release();
    assert!(within(5, stream.next()).await.is_none());
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let server = Server::start([Reply::new(200)
        .header("content-type", SSE)
        .chunk("data: {\"queued\":{\"status\":\"running\"}}\n\n")
        .step(Step::Hold)])
    .await;
    let client = server.client();
    let mut stream = client.revision_progress("rev_1").stream();
    assert!(within(5, stream.next()).await.is_some());
    drop(stream);
    within(5, server.closed_early()).await;
}

#[tokio::test]
async fn a_silent_stream_ends_with_an_idle_error_but_keep_alives_keep_it_open() {
    let stalled =
        Server::start([Reply::new(200).header("content-type", SSE).step(Step::Hold)]).await;
    let client = deno_deploy::Client::builder()
        .base_url(&stalled.base_url)
        .token("ddo_x")
        .stream_idle_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let items: Vec<_> = within(10, client.revision_progress("r").stream().collect()).await;
    assert!(
        matches!(&items[..], [Err(Error::Stream(m))] if m.contains("no data")),
        "{items:?}"
    );

    let mut reply = Reply::new(200).header("content-type", SSE);
    for _ in 0..6 {
        reply = reply
            .step(Step::Pause(Duration::from_millis(80)))
            .chunk(": keepalive\n\n");
    }
    let alive = Server::start([reply.chunk("event: done\ndata: {}\n\n")]).await;
    let client = deno_deploy::Client::builder()
        .base_url(&alive.base_url)
        .token("ddo_x")
        .stream_idle_timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let items: Vec<_> = within(10, client.revision_progress("r").stream().collect()).await;
    assert!(items.is_empty(), "{items:?}");
}

#[tokio::test]
async fn an_api_error_before_the_stream_is_a_typed_error() {
    let server = Server::start([Reply::json(
        404,
        r#"{"error":"revision not found","code":"not_found"}"#,
    )])
    .await;
    let items = collect_progress(&server, StreamFormat::Sse).await;
    match &items[..] {
        [Err(Error::Api(api))] => {
            assert_eq!(api.status.as_u16(), 404);
            assert_eq!(api.code.as_deref(), Some("not_found"));
        }
        other => panic!("{other:?}"),
    }
}

fn start() -> chrono::DateTime<chrono::Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

#[tokio::test]
async fn live_logs_over_ndjson_split_inside_a_utf8_sequence() {
    let chunks: [&[u8]; 3] = [
        b"{\"level\":\"info\",\"message\":\"caf\xC3",
        b"\xA9\"}\n{\"level\":\"warn\",\"mes",
        b"sage\":\"b\"}\n",
    ];
    let server = Server::start([Reply::new(200)
        .header("content-type", NDJSON)
        .chunks(chunks)])
    .await;
    let client = server.client();
    let items: Vec<_> = within(
        10,
        client
            .follow_logs("app", start())
            .format(StreamFormat::Ndjson)
            .max_reconnects(0)
            .stream()
            .collect(),
    )
    .await;
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap().message.as_deref(), Some("café"));
    assert_eq!(items[1].as_ref().unwrap().message.as_deref(), Some("b"));
    // A live stream has no natural end: the closed connection is reported.
    assert!(matches!(&items[2], Err(Error::Stream(m)) if m.contains("closed")));
    let seen = &server.seen()[0];
    assert_eq!(seen.header("accept"), Some(NDJSON));
    assert!(
        seen.target
            .starts_with("/v2/apps/app/logs?start=2026-01-01T00%3A00%3A00Z"),
        "{}",
        seen.target
    );
}

#[tokio::test]
async fn live_logs_over_sse_and_a_malformed_line_names_its_number() {
    let server = Server::start([Reply::new(200)
        .header("content-type", NDJSON)
        .chunk("{\"message\":\"a\"}\r\n\r\n\n{\"message\":\"b\"}\nnot json\n")])
    .await;
    let client = server.client();
    let items: Vec<_> = within(10, client.follow_logs("app", start()).stream().collect()).await;
    assert_eq!(items[0].as_ref().unwrap().message.as_deref(), Some("a"));
    assert_eq!(items[1].as_ref().unwrap().message.as_deref(), Some("b"));
    assert!(
        matches!(&items[2], Err(Error::Decode { what, .. }) if what == "log entry on line 5"),
        "{items:?}"
    );
    assert_eq!(items.len(), 3, "the stream ends at the first error");

    let sse = Server::start([Reply::new(200)
        .header("content-type", SSE)
        .chunk(": keepalive\n\nid: 1\ndata: {\"message\":\"x\",\"level\":\"error\"}\n\n")])
    .await;
    let client = sse.client();
    let follow = client.follow_logs("app", start()).max_reconnects(0);
    let items: Vec<_> = within(10, follow.stream().collect()).await;
    let entry = items[0].as_ref().unwrap();
    assert_eq!(entry.level, Some(types::RuntimeLogEntryLevel::Error));
    assert_eq!(sse.seen()[0].header("accept"), Some(SSE));
}

#[tokio::test]
async fn a_json_answer_to_a_logs_request_decodes_as_runtime_logs_response() {
    let server = Server::start([Reply::json(
        200,
        r#"{"logs":[{"message":"one"},{"message":"two"}],"cursor":"c2"}"#,
    )])
    .await;
    let client = server.client();
    let items: Vec<_> = within(10, client.follow_logs("app", start()).stream().collect()).await;
    let messages: Vec<_> = items
        .into_iter()
        .map(|i| i.unwrap().message.unwrap())
        .collect();
    assert_eq!(messages, ["one", "two"]);
}

#[test]
fn stages_are_named_as_the_api_names_them() {
    let names: Vec<_> = Stage::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        ["queued", "preparing", "installing", "building", "deploying"]
    );
}
