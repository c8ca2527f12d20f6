//! `deno-deploy-emulator`: serves the Deno Deploy API v2 emulator until SIGINT or SIGTERM.
//!
//! The first line on stdout is the base URL (`http://127.0.0.1:PORT/v2`); with port 0 it
//! shows the port picked. On a signal it stops and exits with code 0.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use deno_deploy_emulator::{Emulator, EmulatorConfig, FaultRule};

/// An in-memory emulator of the Deno Deploy REST API v2, for offline tests.
#[derive(Debug, Parser)]
#[command(name = "deno-deploy-emulator", version)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The only bearer token accepted; without it any token starting with ddo_ is.
    #[arg(long, value_name = "TOKEN", value_parser = token)]
    token: Option<String>,
    /// Milliseconds each build stage takes.
    #[arg(long, value_name = "N", default_value_t = 20)]
    build_delay_ms: u64,
    /// Milliseconds between keep-alives on idle streams.
    #[arg(long, value_name = "N", default_value_t = 5000, value_parser = keepalive_ms)]
    keepalive_ms: u64,
    /// The base URL clients reach the API at, when a proxy stands in front (next-page links
    /// point there); by default the Host of each request.
    #[arg(long, value_name = "URL", value_parser = public_url)]
    public_url: Option<String>,
    /// A fault to inject, as TARGET:KIND[:OPTION]..., e.g. getApp:status=503:times=2.
    /// KIND: status=CODE, rate-limit=SECS, latency=MS, reset, drop-after=N, stall, malformed.
    /// OPTION: times=N (from 1), always, retry-after=SECS, after-operation. Repeatable.
    #[arg(long = "fault", value_name = "RULE")]
    faults: Vec<FaultRule>,
}

// Each flag is checked by the library's own rule, so the binary and `Emulator::start_with`
// refuse the same values; clap names the flag in front of the rule.

fn keepalive_ms(value: &str) -> Result<u64, String> {
    let ms: u64 = value
        .parse()
        .map_err(|_| "must be a whole number of milliseconds".to_owned())?;
    check(EmulatorConfig::default().keepalive(Duration::from_millis(ms)))?;
    Ok(ms)
}

fn token(value: &str) -> Result<String, String> {
    check(EmulatorConfig::default().token(value))?;
    Ok(value.to_owned())
}

fn public_url(value: &str) -> Result<String, String> {
    check(EmulatorConfig::default().public_url(value))?;
    Ok(value.to_owned())
}

fn check(config: EmulatorConfig) -> Result<(), String> {
    config.validate().map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("deno-deploy-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> std::io::Result<()> {
    let mut config = EmulatorConfig::default()
        .listen(args.listen)
        .build_delay(Duration::from_millis(args.build_delay_ms))
        .keepalive(Duration::from_millis(args.keepalive_ms));
    let token = args.token;
    if let Some(token) = &token {
        config = config.token(token.clone());
    }
    if let Some(url) = args.public_url {
        config = config.public_url(url);
    }
    for rule in args.faults {
        config = config.fault(rule.target, rule.fault);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        // Signal handlers go in before the URL is printed, so a signal sent as soon as the
        // URL is read is already handled.
        let stop = stop_signal()?;
        let emulator = Emulator::start_with(config)?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", emulator.base_url())?;
        stdout.flush()?;
        drop(stdout);
        let accepted = match &token {
            Some(token) => format!("token {token}"),
            None => "any token starting with ddo_".to_owned(),
        };
        eprintln!(
            "deno-deploy-emulator: serving {} for {accepted}; stop with SIGINT or SIGTERM",
            emulator.base_url()
        );
        stop.await;
        drop(emulator);
        Ok(())
    })
}

#[cfg(unix)]
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
