//! Streamed deploys: the body's bytes against serde_json's, what a server on 127.0.0.1
//! receives, files that change after listing, and a deploy never being sent twice.

use std::{
    fs,
    path::Path,
    sync::{Arc, Mutex},
};

use axum::{body::Body, extract::State, http::HeaderMap, response::IntoResponse, routing::post};
use deno_deploy::ext::assets::{AssetEntry, Assets, AssetsError};
use deno_deploy::ext::DeployBody;
use deno_deploy::{types, Client, Error};
use futures::TryStreamExt;

/// A tree with every kind of content the encoder treats differently.
fn write_tree(root: &Path) {
    let write = |rel: &str, bytes: &[u8]| {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    };
    write(
        "main.ts",
        b"Deno.serve(() => new Response(\"hi\\n\"));\r\n\t// \x01\x1f\x7f",
    );
    write("empty.txt", b"");
    write(
        "static/logo.png",
        &[0x89, b'P', b'N', b'G', 0, 0xff, 0xfe, 1, 2],
    );
    write(
        "static/\u{e9}t\u{e9} \"quoted\".txt",
        "caf\u{e9} \u{1f600}".as_bytes(),
    );
    // Larger than a single read, with a four-byte character at every odd offset, so some
    // character is cut by each read boundary.
    let text: String = (0..300_000)
        .map(|i| if i % 2 == 0 { "a\"" } else { "\u{1f600}\\" })
        .collect();
    write("big/text.txt", text.as_bytes());
    // Larger than a single read and not a multiple of 3 bytes.
    let binary: Vec<u8> = (0..1_500_001u32).map(|i| (i * 31 % 251) as u8).collect();
    write("big/binary.bin", &binary);
    // UTF-8 until its very last byte: only the full check can tell.
    let mut late = "x".repeat(1_200_000).into_bytes();
    late.push(0xc3);
    write("big/almost-text.txt", &late);
    #[cfg(unix)]
    std::os::unix::fs::symlink("main.ts", root.join("index.ts")).unwrap();
}

fn template() -> types::DeployRequest {
    types::DeployRequest {
        assets: Default::default(),
        config: None,
        env_vars: vec![types::EnvVarInputForDeploy {
            contexts: None,
            key: "API_URL".parse().unwrap(),
            secret: false,
            value: "https://example.invalid/\"x\"".parse().unwrap(),
        }],
        labels: [("team".to_owned(), "web \u{1f600}".to_owned())].into(),
        layers: Vec::new(),
        preview: true,
        production: false,
    }
}

/// The in-memory request: every file read into its asset.
fn in_memory(root: &Path) -> types::DeployRequest {
    let collected = Assets::from_dir(root).collect().unwrap();
    types::DeployRequest {
        assets: collected.assets.into_iter().collect(),
        ..template()
    }
}

fn listing(root: &Path) -> Vec<AssetEntry> {
    Assets::from_dir(root).entries().unwrap().entries
}

#[test]
fn the_streamed_body_is_byte_for_byte_what_serde_json_writes_for_the_request() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path());
    let request = in_memory(dir.path());
    let expected = serde_json::to_vec(&request).unwrap();

    // The generated request keeps its assets in a HashMap: stream them in that map's order.
    let mut entries = listing(dir.path());
    let order: Vec<&String> = request.assets.keys().collect();
    entries.sort_by_key(|e| order.iter().position(|k| **k == e.key).unwrap());
    let body = DeployBody::new(&template(), entries).unwrap();

    let streamed = body.to_vec().unwrap();
    assert_eq!(streamed.len(), expected.len());
    assert!(streamed == expected, "the bodies differ");
    assert!(request.assets.len() >= 8, "{} assets", request.assets.len());
}

#[tokio::test]
async fn the_chunks_of_the_stream_add_up_to_the_same_body() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path());
    let body = DeployBody::new(&template(), listing(dir.path())).unwrap();
    let whole = body.to_vec().unwrap();
    let chunks: Vec<bytes::Bytes> = body.into_stream().try_collect().await.unwrap();
    assert!(chunks.len() > 2, "{} chunks", chunks.len());
    assert_eq!(chunks.concat(), whole);
}

#[test]
fn a_file_that_changes_size_after_listing_ends_the_body_with_file_changed() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path());
    let body = DeployBody::new(&template(), listing(dir.path())).unwrap();
    fs::write(dir.path().join("main.ts"), b"shorter").unwrap();
    let err = body.to_vec().unwrap_err();
    assert!(
        matches!(&err, AssetsError::FileChanged { path, .. } if path.ends_with("main.ts")),
        "{err}"
    );
}

#[test]
fn a_file_rewritten_at_the_same_size_is_sent_as_it_reads_then() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.txt"), "y".repeat(2_000_000)).unwrap();
    let body = DeployBody::new(&template(), listing(dir.path())).unwrap();
    let text = body.to_vec().unwrap();
    assert!(text.starts_with(br#"{"assets":{"a.txt":{"content":"yyy"#));
    assert!(memchr::memmem::find(&text, br#""encoding":"utf-8""#).is_some());

    // Same size, no longer UTF-8: the whole file goes out as base64, never half and half.
    let mut bytes = "y".repeat(2_000_000).into_bytes();
    bytes[1_999_000] = 0xff;
    fs::write(dir.path().join("a.txt"), &bytes).unwrap();
    let binary = body.to_vec().unwrap();
    let sent: types::DeployRequest = serde_json::from_slice(&binary).unwrap();
    let asset = &sent.assets["a.txt"];
    assert_eq!(asset.encoding, Some(types::AssetEncoding::Base64));
    let decoded = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        asset.content.as_deref().unwrap(),
    )
    .unwrap();
    assert!(decoded == bytes);
}

/// What the capture server saw.
#[derive(Default)]
struct Captured {
    bodies: Vec<Vec<u8>>,
    headers: Vec<HeaderMap>,
}

/// A server on 127.0.0.1 that records each deploy's body and answers `status`.
async fn capture_server(status: u16) -> (String, Arc<Mutex<Captured>>) {
    let captured = Arc::new(Mutex::new(Captured::default()));
    let app = axum::Router::new()
        .route(
            "/v2/apps/{app}/deploy",
            post(
                move |State(captured): State<Arc<Mutex<Captured>>>,
                      headers: HeaderMap,
                      body: Body| async move {
                    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
                    let mut seen = captured.lock().unwrap();
                    seen.bodies.push(bytes.to_vec());
                    seen.headers.push(headers);
                    let status = axum::http::StatusCode::from_u16(status).unwrap();
                    let revision = r#"{"id":"rev_1","status":"queued"}"#;
                    (status, [("content-type", "application/json")], revision).into_response()
                },
            ),
        )
        .with_state(Arc::clone(&captured));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v2", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, captured)
}

fn client(url: &str) -> Client {
    Client::builder()
        .base_url(url)
        .token("ddo_test_token")
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_deploy_streams_the_same_request_the_in_memory_one_describes() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path());
    let (url, captured) = capture_server(202).await;

    let deployed = client(&url)
        .deploy_directory("my-app", dir.path())
        .preview(true)
        .production(false)
        .label("team", "web \u{1f600}")
        .env_var("API_URL", "https://example.invalid/\"x\"")
        .send()
        .await
        .unwrap();
    assert_eq!(deployed.revision.id, "rev_1");

    let seen = captured.lock().unwrap();
    assert_eq!(seen.bodies.len(), 1);
    let headers = &seen.headers[0];
    assert_eq!(headers["authorization"], "Bearer ddo_test_token");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["transfer-encoding"], "chunked");
    assert!(headers.get("content-length").is_none());

    // Key order aside (JSON objects have none), the same document as the in-memory request.
    let sent: serde_json::Value = serde_json::from_slice(&seen.bodies[0]).unwrap();
    let expected = serde_json::to_value(in_memory(dir.path())).unwrap();
    assert_eq!(sent, expected);
    // And in order: the listing's, by key.
    let body = DeployBody::new(&template(), listing(dir.path())).unwrap();
    assert!(
        seen.bodies[0] == body.to_vec().unwrap(),
        "the bodies differ"
    );
}

#[tokio::test]
async fn a_deploy_is_sent_once_even_when_retries_are_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path());
    let (url, captured) = capture_server(503).await;

    let client = client(&url);
    let call = client.deploy_directory("my-app", dir.path()).send();
    let err = deno_deploy::retry_non_idempotent(call).await.unwrap_err();
    match &err {
        Error::Api(api) => assert_eq!(api.status.as_u16(), 503),
        other => panic!("expected the 503, got {other}"),
    }
    assert_eq!(captured.lock().unwrap().bodies.len(), 1);
}

#[tokio::test]
async fn a_file_that_shrinks_during_the_upload_fails_the_deploy_with_file_changed() {
    let dir = tempfile::tempdir().unwrap();
    // More than the body's read-ahead and the loopback socket buffers hold, so the writer is
    // still inside this file when the server sees the first bytes.
    let big: Vec<u8> = (0..24 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    fs::write(dir.path().join("a.bin"), &big).unwrap();
    fs::write(dir.path().join("z.txt"), "the last file".repeat(100)).unwrap();
    let late = dir.path().join("z.txt");

    // The server shrinks z.txt as soon as the first bytes arrive, then reads on.
    let bodies_completed = Arc::new(Mutex::new(0));
    let completed = Arc::clone(&bodies_completed);
    let app = axum::Router::new().route(
        "/v2/apps/{app}/deploy",
        post(move |body: Body| {
            let (late, completed) = (late.clone(), Arc::clone(&completed));
            async move {
                let mut frames = body.into_data_stream();
                let mut first = true;
                while let Some(frame) = futures::StreamExt::next(&mut frames).await {
                    if frame.is_err() {
                        return axum::http::StatusCode::BAD_REQUEST;
                    }
                    if std::mem::take(&mut first) {
                        fs::write(&late, "short").unwrap();
                    }
                }
                *completed.lock().unwrap() += 1;
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v2", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let err = client(&url)
        .deploy_directory("my-app", dir.path())
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Assets(AssetsError::FileChanged { path, size: 1300 }) if path.ends_with("z.txt")),
        "{err}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        *bodies_completed.lock().unwrap(),
        0,
        "no complete body reached the server"
    );
}

#[tokio::test]
async fn a_deploy_sends_secret_env_vars_flagged_and_its_debug_never_shows_a_value() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path());
    let (url, captured) = capture_server(202).await;
    let client = client(&url);

    let deploy = client
        .deploy_directory("my-app", dir.path())
        .env_var("REGION", "plain-value-Qx7")
        .secret_env_var("API_KEY", "TOPSECRET-Vb3");
    let text = format!("{deploy:?}");
    assert!(
        text.contains("API_KEY") && text.contains("REGION"),
        "{text}"
    );
    assert!(text.contains("<redacted>"), "{text}");
    for value in ["plain-value-Qx7", "TOPSECRET-Vb3", "ddo_test_token"] {
        assert!(
            !text.contains(value),
            "the deploy's Debug shows {value:?}: {text}"
        );
    }
    deploy.send().await.unwrap();

    let seen = captured.lock().unwrap();
    let sent: serde_json::Value = serde_json::from_slice(&seen.bodies[0]).unwrap();
    assert_eq!(
        sent["env_vars"],
        serde_json::json!([
            {"key": "REGION", "value": "plain-value-Qx7", "secret": false},
            {"key": "API_KEY", "value": "TOPSECRET-Vb3", "secret": true},
        ])
    );
}

#[tokio::test]
async fn a_deploy_to_an_empty_app_id_is_refused_before_the_directory_is_read() {
    let (url, captured) = capture_server(202).await;
    let err = client(&url)
        .deploy_directory("", "/nonexistent/dir/never/listed")
        .send()
        .await
        .unwrap_err();
    match &err {
        Error::InvalidInput { field, rule } => {
            assert_eq!(
                (field.as_str(), rule.as_str()),
                ("app", "must not be empty")
            )
        }
        other => panic!("expected InvalidInput, got {other}"),
    }
    assert_eq!(captured.lock().unwrap().bodies.len(), 0);
}
