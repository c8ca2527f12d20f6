//! The `deno-deploy-emulator` binary: its first stdout line, its flags, and a clean exit 0
//! on SIGTERM or SIGINT.
//!
//! Each test spawns the real binary on 127.0.0.1:0 and reads the URL it prints.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use crate::support::{Reply, PATIENCE};

/// A spawned binary and the base URL it printed.
struct Running {
    child: Child,
    base_url: String,
}

impl Running {
    fn spawn(args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_deno-deploy-emulator"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(PATIENCE).expect("a first line on stdout");
        Running {
            child,
            base_url: line.trim_end().to_owned(),
        }
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill only sends a signal to the child this test spawned.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    /// Waits for the exit, killing the child if it does not come within the patience.
    fn exit_code(mut self) -> Option<i32> {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the binary did not exit");
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_binary_prints_its_base_url_serves_and_exits_0_on_sigterm() {
    let running = Running::spawn(&["--listen", "127.0.0.1:0"]);
    let url = &running.base_url;
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/v2"),
        "{url}"
    );
    let port: u16 = url["http://127.0.0.1:".len()..url.len() - 3]
        .parse()
        .unwrap();
    assert_ne!(port, 0, "port 0 shows the port picked");
    crate::support::install_tls_provider();
    let client = reqwest::Client::new();
    let reply = Reply::read(
        client
            .get(format!("{url}/apps"))
            .bearer_auth("ddo_any")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.list("AppListItem").len(), 0);
    running.signal(libc::SIGTERM);
    assert_eq!(running.exit_code(), Some(0));
}

#[tokio::test]
async fn the_binary_exits_0_on_sigint_too() {
    let running = Running::spawn(&[]);
    assert!(running.base_url.starts_with("http://127.0.0.1:"));
    running.signal(libc::SIGINT);
    assert_eq!(running.exit_code(), Some(0));
}

#[tokio::test]
async fn the_binary_flags_set_the_token_the_build_delay_and_faults() {
    let running = Running::spawn(&[
        "--listen",
        "127.0.0.1:0",
        "--token",
        "ddo_flag",
        "--build-delay-ms",
        "1",
        "--keepalive-ms",
        "50",
        "--fault",
        "listApps:status=503:times=1",
    ]);
    let url = running.base_url.clone();
    crate::support::install_tls_provider();
    let client = reqwest::Client::new();
    let get = |token: &'static str| client.get(format!("{url}/apps")).bearer_auth(token).send();
    Reply::read(get("ddo_flag").await.unwrap())
        .await
        .error(503, "service_unavailable");
    Reply::read(get("ddo_other").await.unwrap())
        .await
        .error(401, "unauthorized");
    assert_eq!(
        Reply::read(get("ddo_flag").await.unwrap()).await.status,
        200
    );
    running.signal(libc::SIGTERM);
    assert_eq!(running.exit_code(), Some(0));
}

#[test]
fn a_bad_flag_is_refused_with_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_deno-deploy-emulator"))
        .args(["--fault", "getApp:explode"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown kind `explode`"), "{stderr}");
}

#[test]
fn flag_values_that_cannot_work_are_refused_naming_the_flag_and_the_rule() {
    for (args, expected) in [
        (["--keepalive-ms", "0"], "'--keepalive-ms <N>': keepalive must be at least 1 ms"),
        (
            ["--fault", "getApp:status=999"],
            "status must be an error status from 400 to 599",
        ),
        (
            ["--public-url", "notaurl"],
            "'--public-url <URL>': public_url `notaurl` must be an absolute http:// or https:// URL without query or fragment",
        ),
        (
            ["--public-url", "http://127.0.0.1:4010/v2?x=1"],
            "must be an absolute http:// or https:// URL without query or fragment",
        ),
        (["--token", ""], "'--token <TOKEN>': token must not be empty"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_deno-deploy-emulator"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(stderr.contains(args[0]), "{args:?}: {stderr}");
    }
}
