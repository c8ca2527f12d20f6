//! Deploys `examples/hello/` end to end: create an app, deploy, wait with per-stage progress,
//! print the revision and its runtime logs, list apps, and clean up.
//!
//! Without `DENO_DEPLOY_TOKEN` it runs against the in-process emulator; with it, against the
//! real API (or `DENO_DEPLOY_API_URL`). Run it with `cargo run --example quickstart`.

use std::{path::Path, process::ExitCode, time::Duration};

use deno_deploy::{
    ext::{Stage, WaitEvent},
    prelude::*,
    types,
};
use deno_deploy_emulator::Emulator;
use futures::TryStreamExt;

#[tokio::main]
async fn main() -> ExitCode {
    // The emulator, when used, must outlive the client's calls.
    let (client, _emulator) = match connect().await {
        Ok(pair) => pair,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };

    let slug = format!("hello-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let outcome = run(&client, &slug).await;

    // Clean up whatever was created, even after a failure.
    match client.delete_app().app(&slug).send().await {
        Ok(_) => println!("\ndeleted app {slug}"),
        Err(e) if e.status().map(|s| s.as_u16()) == Some(404) => {}
        Err(e) => eprintln!("warning: could not delete app {slug}: {}", Error::from(e)),
    }

    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn connect() -> Result<(Client, Option<Emulator>), String> {
    if std::env::var_os(deno_deploy::TOKEN_ENV).is_some() {
        let client = Client::from_env().map_err(|e| e.to_string())?;
        println!("using the API at {}", client.state().base_url());
        return Ok((client, None));
    }
    let emulator = Emulator::start().map_err(|e| format!("cannot start the emulator: {e}"))?;
    println!(
        "no {} set: using the embedded emulator at {}",
        deno_deploy::TOKEN_ENV,
        emulator.base_url()
    );
    let client = Client::builder()
        .base_url(emulator.base_url())
        .token(emulator.token())
        .build()
        .map_err(|e| e.to_string())?;
    Ok((client, Some(emulator)))
}

async fn run(client: &Client, slug: &str) -> Result<(), Error> {
    // 1. An app with labels and env vars.
    let app = client
        .create_app()
        .body(
            types::CreateAppRequest::builder()
                .slug(slug.parse::<types::CreateAppRequestSlug>()?)
                .labels([
                    ("team".to_owned(), "docs".to_owned()),
                    ("example".to_owned(), "quickstart".to_owned()),
                ])
                .env_vars(vec![
                    types::EnvVarInput::builder()
                        .key("GREETING")
                        .value("hello")
                        .try_into()?,
                    types::EnvVarInput::builder()
                        .key("API_KEY")
                        .value("not-a-real-secret")
                        .secret(true)
                        .try_into()?,
                ]),
        )
        .send()
        .await?
        .into_inner();
    println!("created app {} ({})", app.slug.as_str(), app.id);

    // 2. Deploy the directory: main.ts travels as utf-8, logo.png as base64.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello");
    let config = types::Config {
        runtime: Some(types::Runtime {
            type_: types::RuntimeType::Dynamic,
            entrypoint: Some("main.ts".into()),
            args: vec![],
            cwd: None,
            spa: None,
        }),
        ..Default::default()
    };
    let deployed = client
        .deploy_directory(slug, &dir)
        .config(config)
        .label("source", "quickstart")
        .send()
        .await?;
    let summary = &deployed.summary;
    println!(
        "deployed {} files ({} bytes) as revision {} ({})",
        summary.files, summary.total_bytes, deployed.revision.id, deployed.revision.status
    );

    // 3. Wait, drawing one progress bar line per stage change.
    let revision = client
        .wait_for_revision(&deployed.revision.id)
        .timeout(Duration::from_secs(120))
        .on_event(progress_printer())
        .send()
        .await?;
    println!(
        "revision {} {} (created {}, updated {})",
        revision.id,
        revision.status,
        display_time(revision.created_at.as_ref()),
        display_time(revision.updated_at.as_ref()),
    );

    // 4. The runtime logs of the new revision.
    let start = chrono::Utc::now() - chrono::Duration::minutes(10);
    let end = chrono::Utc::now() + chrono::Duration::minutes(1);
    let logs: Vec<types::RuntimeLogEntry> = client
        .get_app_logs()
        .app(slug)
        .start(start)
        .end(end)
        .revision_id(&revision.id)
        .stream()
        .try_collect()
        .await?;
    println!("\nruntime logs ({} entries):", logs.len());
    for entry in &logs {
        println!(
            "  {} {:5} [{}] {}",
            display_time(entry.timestamp.as_ref()),
            entry
                .level
                .as_ref()
                .map(|l| l.to_string())
                .unwrap_or_default(),
            entry.region.as_deref().unwrap_or("-"),
            entry.message.as_deref().unwrap_or_default()
        );
    }

    // 5. Every app, page by page.
    let apps: Vec<types::AppListItem> = client.list_apps().limit(20).stream().try_collect().await?;
    println!("\napps ({}):", apps.len());
    for app in &apps {
        let mut labels: Vec<String> = app.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        labels.sort();
        println!(
            "  {:<24} {}  {}",
            app.slug.as_str(),
            app.id,
            labels.join(",")
        );
    }
    Ok(())
}

/// Prints one progress bar line per stage change: `#` done, `>` running, `!` failed.
fn progress_printer() -> impl FnMut(&WaitEvent) + Send {
    let mut statuses = [""; 5].map(String::from);
    move |event| match event {
        WaitEvent::Stage { stage, status } => {
            if status == "pending" {
                return;
            }
            let index = Stage::ALL.iter().position(|s| s == stage).unwrap_or(0);
            statuses[index] = status.clone();
            let bar: String = statuses
                .iter()
                .map(|s| match s.as_str() {
                    "succeeded" | "skipped" => '#',
                    "running" => '>',
                    "failed" => '!',
                    _ => '-',
                })
                .collect();
            println!("  [{bar}] {stage:<10} {status}");
        }
        WaitEvent::Status(status) => println!("  revision status: {status}"),
        WaitEvent::Polling { reason } => println!("  (progress stream lost: {reason}; polling)"),
    }
}

fn display_time(time: Option<&chrono::DateTime<chrono::Utc>>) -> String {
    time.map(|t| t.format("%H:%M:%S%.3f").to_string())
        .unwrap_or_else(|| "-".into())
}
