//! The library handle: starting from any context, stopping on drop, counting requests, and
//! appending logs.
//!
//! The sync test speaks raw HTTP/1.1 over a TcpStream, so no async runtime is involved.

use std::io::{Read, Write};
use std::net::TcpStream;

use std::time::Duration;

use deno_deploy_emulator::{
    Emulator, EmulatorConfig, EmulatorError, Fault, LogEntry, LogLevel, Operation,
};
use serde_json::json;

use crate::support::Api;

#[test]
fn an_emulator_starts_and_answers_without_any_async_runtime() {
    let emulator = Emulator::start().unwrap();
    let mut stream = TcpStream::connect(emulator.addr()).unwrap();
    stream
        .set_read_timeout(Some(crate::support::PATIENCE))
        .unwrap();
    write!(
        stream,
        "GET /v2/apps HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        emulator.token()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n[]"), "{answer}");
    assert_eq!(emulator.request_count(), 1);
}

#[test]
fn an_emulator_stops_when_dropped() {
    let emulator = Emulator::start().unwrap();
    let addr = emulator.addr();
    TcpStream::connect(addr).expect("it listens");
    drop(emulator);
    assert!(
        TcpStream::connect(addr).is_err(),
        "nothing listens any more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_thread_runtime_can_start_and_drop_one() {
    let api = Api::start();
    api.create_app(json!({"slug": "multi"})).await;
    assert_eq!(api.emulator.request_count(), 1);
    let emulator = Emulator::start().unwrap();
    assert_ne!(emulator.addr(), api.emulator.addr());
    drop(emulator);
}

#[tokio::test]
async fn request_count_counts_every_request_whatever_its_outcome() {
    let api = Api::start();
    api.get("/apps").await;
    api.send(api.http.get(api.url("/apps"))).await;
    api.get("/nowhere").await;
    api.send(api.request(reqwest::Method::PUT, "/apps")).await;
    assert_eq!(api.emulator.request_count(), 4);
}

#[tokio::test]
async fn two_emulators_share_nothing() {
    let first = Api::start();
    let second = Api::start();
    first.create_app(json!({"slug": "only-here"})).await;
    second
        .get("/apps/only-here")
        .await
        .error(404, "app_not_found");
    assert_eq!(second.emulator.request_count(), 1);
}

#[tokio::test]
async fn logs_can_be_appended_by_app_id_or_slug_only_for_known_apps() {
    let api = Api::start();
    let app = api.create_app(json!({"slug": "log-target"})).await;
    api.emulator
        .emit_logs(app["id"].as_str().unwrap(), 1)
        .unwrap();
    api.emulator
        .push_log("log-target", LogEntry::new(LogLevel::Debug, "by slug"))
        .unwrap();
    let page = api
        .get("/apps/log-target/logs?start=2000-01-01T00:00:00Z&end=2999-01-01T00:00:00Z")
        .await
        .ok(200, "RuntimeLogsResponse");
    assert_eq!(page["logs"].as_array().unwrap().len(), 2);
    assert_eq!(page["logs"][1]["level"], "debug");
    assert!(
        page["logs"][1].get("revision_id").is_none(),
        "no revision runs yet"
    );
    assert_eq!(
        api.emulator.emit_logs("nope", 1),
        Err(EmulatorError::AppNotFound("nope".into()))
    );
    assert_eq!(api.emulator.token(), "ddo_emulator_token");
    assert_eq!("warn".parse::<LogLevel>(), Ok(LogLevel::Warn));
}

#[test]
fn a_config_that_cannot_work_is_refused_at_start_naming_the_setting() {
    let cases = [
        (
            EmulatorConfig::default().keepalive(Duration::ZERO),
            "keepalive must be at least 1 ms",
        ),
        (
            EmulatorConfig::default().token(""),
            "token must not be empty",
        ),
        (
            EmulatorConfig::default().token("ddo_a b"),
            "token must not contain whitespace",
        ),
        (
            EmulatorConfig::default().public_url("notaurl"),
            "public_url `notaurl` must be an absolute http:// or https:// URL",
        ),
        (
            EmulatorConfig::default().public_url("ftp://127.0.0.1:4010"),
            "public_url `ftp://127.0.0.1:4010` must be an absolute http:// or https:// URL",
        ),
        (
            EmulatorConfig::default().public_url("http://127.0.0.1:4010#top"),
            "without query or fragment",
        ),
        (
            EmulatorConfig::default().fault(Operation::GetApp, Fault::status(999)),
            "fault on getApp: status must be an error status from 400 to 599, not 999",
        ),
    ];
    for (config, expected) in cases {
        let err = Emulator::start_with(config).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains(expected), "{err}");
    }
    let fine = EmulatorConfig::default()
        .keepalive(Duration::from_millis(1))
        .token("ddo_fine")
        .public_url("https://127.0.0.1:4010/")
        .fault(Operation::GetApp, Fault::status(599));
    assert_eq!(Emulator::start_with(fine).unwrap().token(), "ddo_fine");
}
