//! One shared client, 1,000 operations at once against the emulator: all succeed, and the
//! number of connections they needed stays bounded. Nothing here is timed.

use std::time::Duration;

use deno_deploy::{prelude::*, types};
use deno_deploy_emulator::{Emulator, EmulatorConfig, Operation};
use futures::{future::join_all, TryStreamExt};

const OPERATIONS: usize = 1_000;
const APPS: usize = 10;

/// Runs the operations from one client with this many requests in flight at most; returns the
/// connections the emulator accepted for them.
async fn run(limit: usize) -> u64 {
    let emulator =
        Emulator::start_with(EmulatorConfig::default().build_delay(Duration::from_millis(5)))
            .expect("emulator starts");
    let client = Client::builder()
        .base_url(emulator.base_url())
        .token(emulator.token())
        .max_concurrent_requests(limit)
        .build()
        .expect("client builds");
    for n in 0..APPS {
        client
            .create_app()
            .body(
                types::CreateAppRequest::builder().slug(
                    format!("load-{n}")
                        .parse::<types::CreateAppRequestSlug>()
                        .unwrap(),
                ),
            )
            .send()
            .await
            .expect("app created");
    }
    let connections_before = emulator.connection_count();

    // Reads of three kinds and some creates, all in flight together.
    let calls = (0..OPERATIONS).map(|n| {
        let client = &client;
        async move {
            let app = format!("load-{}", n % APPS);
            match n % 4 {
                0 => client.get_app().app(&app).send().await.map(|_| ()),
                1 => client.list_apps().limit(5u64).send().await.map(|_| ()),
                2 => client.list_revisions().app(&app).send().await.map(|_| ()),
                _ => client
                    .create_app()
                    .body(
                        types::CreateAppRequest::builder().slug(
                            format!("made-{n}")
                                .parse::<types::CreateAppRequestSlug>()
                                .unwrap(),
                        ),
                    )
                    .send()
                    .await
                    .map(|_| ()),
            }
            .map_err(|e| format!("operation {n}: {}", Error::from(e)))
        }
    });
    let outcomes = join_all(calls).await;
    let connections = emulator.connection_count() - connections_before;
    let failures: Vec<&String> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );

    let creates = OPERATIONS / 4;
    assert_eq!(
        emulator.operation_count(Operation::GetApp),
        (OPERATIONS / 4) as u64
    );
    assert_eq!(
        emulator.operation_count(Operation::CreateApp),
        (APPS + creates) as u64
    );
    let listed: Vec<types::AppListItem> = client.list_apps().stream().try_collect().await.unwrap();
    assert_eq!(listed.len(), APPS + creates);
    println!(
        "{OPERATIONS} concurrent operations, at most {limit} in flight: {connections} connections"
    );
    connections
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_operations_from_one_client_all_succeed_on_few_connections() {
    // A connection goes back to the pool a moment after its answer has been read, so a request
    // that gets its turn in that moment opens another: the count is the limit plus some of
    // those (32 to 52 for a limit of 32 on 2 cores), far from one per operation (999 measured
    // without a limit).
    for limit in [deno_deploy::DEFAULT_MAX_CONCURRENT_REQUESTS, 4] {
        let connections = run(limit).await;
        assert!(connections >= 1);
        assert!(
            connections <= 4 * limit as u64,
            "{connections} connections for at most {limit} requests in flight"
        );
    }
}
