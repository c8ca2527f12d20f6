//! Requests that many tests send to the emulator: an app with a slug, a one-file Deno app.
//!
//! These stand for a user's ordinary calls; tests that need odd bytes build their own.

use std::collections::HashMap;

use deno_deploy::{types, Client};

/// The entrypoint of the smallest app that deploys: `main.ts` serving one response.
pub fn hello_asset() -> types::Asset {
    types::Asset {
        kind: types::AssetKind::File,
        encoding: Some(types::AssetEncoding::Utf8),
        content: Some("Deno.serve(() => new Response('hi'));".to_owned()),
        target: None,
    }
}

/// A production deploy of `assets`, with nothing else set.
pub fn deploy_request(assets: HashMap<String, types::Asset>) -> types::DeployRequest {
    types::DeployRequest {
        assets,
        config: None,
        env_vars: vec![],
        labels: Default::default(),
        layers: vec![],
        preview: false,
        production: true,
    }
}

/// A production deploy of [`hello_asset`] as `main.ts`.
pub fn hello_deploy() -> types::DeployRequest {
    deploy_request([("main.ts".to_owned(), hello_asset())].into())
}

/// Creates an app with `slug`, failing the test when that fails.
pub async fn create_app(client: &Client, slug: &str) -> types::App {
    client
        .create_app()
        .body(
            types::CreateAppRequest::builder()
                .slug(slug.parse::<types::CreateAppRequestSlug>().unwrap()),
        )
        .send()
        .await
        .expect("app created")
        .into_inner()
}
