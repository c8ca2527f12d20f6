//! Property tests through the public API: the SSE, NDJSON and `Link` parsers never panic on
//! arbitrary input, and how the same bytes are split (into chunks, or into header fields)
//! never changes what they yield; the env var patch serializer keeps every key and value.
//!
//! Case counts are kept small so the suite stays quick on two cores; the parsers' own unit
//! tests run more cases against their internals.

mod support;

use deno_deploy::ext::{
    link::{next_link, parse_link_header, parse_link_headers},
    ndjson::{NdjsonDecodeError, NdjsonDecoder, NdjsonLine},
    sse::{SseDecoder, SseItem},
    AppUpdate, Contexts, EnvVarPatch, StreamFormat,
};
use futures::TryStreamExt;
use proptest::prelude::*;
use support::{within, Reply, Server};
use url::Url;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Splits `bytes` at the cut points (taken modulo its length, in any order).
fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.extend([0, bytes.len()]);
    points.sort_unstable();
    points
        .windows(2)
        .map(|w| bytes[w[0]..w[1]].to_vec())
        .collect()
}

/// Bytes made mostly of what an event stream or an NDJSON body is built from.
fn wire_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"data: ".to_vec()),
        Just(b"event: done".to_vec()),
        Just(b"id: 7".to_vec()),
        Just(b"retry: 10".to_vec()),
        Just(b": keep-alive".to_vec()),
        Just(b"{\"a\":1}".to_vec()),
        Just(b"[1,".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just("é".as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..6),
    ];
    prop::collection::vec(piece, 0..30).prop_map(|pieces| pieces.concat())
}

/// Everything an SSE decoder reports for `chunks`: items, the first error, how it ended.
fn sse_outcome(limit: usize, chunks: &[Vec<u8>]) -> Vec<String> {
    let mut decoder = SseDecoder::with_max_event_size(limit);
    let mut items: Vec<SseItem> = Vec::new();
    let mut outcome = Vec::new();
    for chunk in chunks {
        let result = decoder.feed(chunk, &mut items);
        outcome.extend(items.drain(..).map(|item| format!("{item:?}")));
        if let Err(error) = result {
            outcome.push(format!("error: {error}"));
            break;
        }
    }
    outcome.push(format!("end: {:?}", decoder.finish()));
    outcome.push(format!("last id: {:?}", decoder.last_event_id()));
    outcome
}

/// Every line (or error) an NDJSON decoder reports for `chunks`.
fn ndjson_outcome(limit: usize, chunks: &[Vec<u8>]) -> Vec<String> {
    let mut decoder = NdjsonDecoder::with_max_line_len(limit);
    let mut outcome = Vec::new();
    let mut record = |line: Result<NdjsonLine<'_>, NdjsonDecodeError>| {
        outcome.push(match line {
            Ok(line) => format!("{}: {:?}", line.number, line.bytes),
            Err(error) => format!("error: {error}"),
        });
    };
    for chunk in chunks {
        decoder.feed(chunk, &mut record);
    }
    decoder.finish(&mut record);
    outcome
}

fn base() -> Url {
    Url::parse("https://api.example.invalid/v2/apps?limit=2").unwrap()
}

/// One `Link` value, with commas and semicolons inside quotes and the target.
fn link_item() -> impl Strategy<Value = String> {
    (
        "[a-z]{0,6}",
        prop::sample::select(vec!["next", "prev", "next last", "first"]),
        "[a-z ,;=]{0,8}",
    )
        .prop_map(|(cursor, rel, title)| {
            format!(r#"</v2/apps?cursor={cursor}&a=1,2>; rel="{rel}"; title="{title}""#)
        })
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn the_sse_decoder_never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let chunks = split(&bytes, &cuts);
        sse_outcome(deno_deploy::ext::sse::DEFAULT_MAX_EVENT_SIZE, &chunks);
        sse_outcome(8, &chunks);
    }

    #[test]
    fn sse_chunking_never_changes_the_events(
        bytes in wire_bytes(),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
        limit in prop_oneof![Just(deno_deploy::ext::sse::DEFAULT_MAX_EVENT_SIZE), 4usize..32],
    ) {
        let whole = sse_outcome(limit, std::slice::from_ref(&bytes));
        prop_assert_eq!(&sse_outcome(limit, &split(&bytes, &cuts)), &whole);
        let bytewise: Vec<Vec<u8>> = bytes.iter().map(|b| vec![*b]).collect();
        prop_assert_eq!(&sse_outcome(limit, &bytewise), &whole);
    }

    #[test]
    fn the_ndjson_decoder_never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let chunks = split(&bytes, &cuts);
        ndjson_outcome(deno_deploy::ext::ndjson::DEFAULT_MAX_LINE_LEN, &chunks);
        ndjson_outcome(0, &chunks);
    }

    #[test]
    fn ndjson_chunking_never_changes_the_lines(
        bytes in wire_bytes(),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
        limit in prop_oneof![Just(deno_deploy::ext::ndjson::DEFAULT_MAX_LINE_LEN), 0usize..24],
    ) {
        let whole = ndjson_outcome(limit, std::slice::from_ref(&bytes));
        prop_assert_eq!(&ndjson_outcome(limit, &split(&bytes, &cuts)), &whole);
        let bytewise: Vec<Vec<u8>> = bytes.iter().map(|b| vec![*b]).collect();
        prop_assert_eq!(&ndjson_outcome(limit, &bytewise), &whole);
    }

    #[test]
    fn the_link_parser_never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        cuts in prop::collection::vec(any::<usize>(), 0..4),
    ) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_link_header(&text, &base());
        let fields: Vec<String> = split(text.as_bytes(), &cuts)
            .iter()
            .map(|field| String::from_utf8_lossy(field).into_owned())
            .collect();
        let _ = next_link(fields.iter().map(String::as_str), &base());
    }

    #[test]
    fn splitting_links_into_header_fields_never_changes_them(
        items in prop::collection::vec(link_item(), 0..5),
        groups in prop::collection::vec(any::<bool>(), 5),
    ) {
        let whole = parse_link_header(&items.join(", "), &base());
        prop_assert_eq!(whole.as_ref().map(Vec::len), Ok(items.len()));
        let one_per_field = parse_link_headers(items.iter().map(String::as_str), &base());
        prop_assert_eq!(&one_per_field, &whole);
        // Neighbouring links share a field unless `groups` starts a new one there.
        let mut fields = vec![String::new()];
        for (item, new_field) in items.iter().zip(&groups) {
            if *new_field {
                fields.push(String::new());
            }
            let field = fields.last_mut().unwrap();
            if !field.is_empty() {
                field.push_str(" , ");
            }
            field.push_str(item);
        }
        let grouped = parse_link_headers(fields.iter().map(String::as_str), &base());
        prop_assert_eq!(&grouped, &whole);
    }

    #[test]
    fn the_env_patch_serializer_keeps_every_key_and_value_and_sends_null_for_a_delete(
        patches in prop::collection::vec(
            (any::<String>(), any::<String>(), 0u8..4, any::<Option<bool>>()),
            0..6,
        ),
    ) {
        let built: Vec<EnvVarPatch> = patches
            .iter()
            .map(|(key, value, op, secret)| {
                let patch = match op {
                    0 => EnvVarPatch::set(key.clone(), value.clone()),
                    1 => EnvVarPatch::delete(key.clone()),
                    2 => EnvVarPatch::update(key.clone()).contexts(Contexts::All),
                    _ => EnvVarPatch::delete_key(key.clone()),
                };
                match secret {
                    Some(secret) => patch.secret(*secret),
                    None => patch,
                }
            })
            .collect();
        // One at a time or all at once: the same JSON, byte for byte.
        let one_by_one = built
            .iter()
            .cloned()
            .fold(AppUpdate::new(), AppUpdate::env_var);
        let at_once = AppUpdate::new().env_vars(built.clone());
        let text = serde_json::to_string(&one_by_one).unwrap();
        prop_assert_eq!(&text, &serde_json::to_string(&at_once).unwrap());

        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let sent = json["env_vars"].as_array().cloned().unwrap_or_default();
        prop_assert_eq!(sent.len(), patches.len());
        for ((key, value, op, secret), sent) in patches.iter().zip(&sent) {
            let name = if matches!(op, 1 | 2) { "id" } else { "key" };
            prop_assert_eq!(sent[name].as_str(), Some(key.as_str()));
            match op {
                0 => prop_assert_eq!(sent["value"].as_str(), Some(value.as_str())),
                2 => prop_assert!(sent.get("value").is_none()),
                _ => prop_assert!(sent["value"].is_null() && sent.get("value").is_some()),
            }
            prop_assert_eq!(sent.get("secret").and_then(|s| s.as_bool()), *secret);
        }
    }
}

/// A progress stream's body: each stage running then succeeded, then `done`.
fn progress_body(format: StreamFormat) -> Vec<u8> {
    let stages = ["queued", "preparing", "installing", "building"];
    let mut reports = Vec::new();
    for (n, stage) in stages.iter().enumerate() {
        let mut report = serde_json::Map::new();
        for done in &stages[..n] {
            report.insert((*done).into(), serde_json::json!({"status": "succeeded"}));
        }
        report.insert((*stage).into(), serde_json::json!({"status": "running"}));
        reports.push(serde_json::Value::Object(report));
    }
    let mut last = serde_json::Map::new();
    for stage in stages {
        last.insert(stage.into(), serde_json::json!({"status": "succeeded"}));
    }
    last.insert(
        "deploying".into(),
        serde_json::json!({"status": "succeeded"}),
    );
    reports.push(serde_json::Value::Object(last));
    let mut body = Vec::new();
    for report in &reports {
        match format {
            StreamFormat::Sse => {
                body.extend_from_slice(b": keep-alive\n\n");
                body.extend(format!("event: message\ndata: {report}\n\n").bytes());
            }
            StreamFormat::Ndjson => body.extend(format!("{report}\n\n").bytes()),
        }
    }
    if format == StreamFormat::Sse {
        body.extend_from_slice(b"event: done\ndata: {}\n\n");
    }
    body
}

proptest! {
    // Each case starts a server: a few cases are enough to vary the cuts.
    #![proptest_config(config(12))]

    #[test]
    fn a_progress_stream_yields_the_same_reports_however_its_body_is_chunked(
        cuts in prop::collection::vec(any::<usize>(), 0..40),
        ndjson in any::<bool>(),
    ) {
        let format = if ndjson { StreamFormat::Ndjson } else { StreamFormat::Sse };
        let media = if ndjson { "application/x-ndjson" } else { "text/event-stream" };
        let body = progress_body(format);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let reports = runtime.block_on(async {
            let chunked = Reply::new(200).header("content-type", media).chunks(split(&body, &cuts));
            let whole = Reply::new(200).header("content-type", media).chunk(&body);
            let server = Server::start([chunked, whole]).await;
            let client = server.client();
            let mut seen = Vec::new();
            for _ in 0..2 {
                let reports: Vec<_> = within(
                    10,
                    client.revision_progress("rev_1").format(format).stream().try_collect(),
                )
                .await
                .unwrap();
                // The generated types have no `PartialEq`: compare their JSON.
                seen.push(serde_json::to_value(&reports).unwrap());
            }
            seen
        });
        prop_assert_eq!(reports[0].as_array().map(Vec::len), Some(5));
        prop_assert_eq!(&reports[0], &reports[1]);
    }
}
