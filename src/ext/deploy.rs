//! Deploying a directory in one call: collect its files into assets, then deployApp.
//!
//! The directory walk is [`super::assets`] and the streamed body [`super::deploy_body`]; this
//! file adds the deploy's own options (config, production or preview, labels, env vars) and
//! sends the request through the client's hooks, once.

use std::{
    collections::BTreeMap,
    io,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::TryStreamExt;
use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{ACCEPT, CONTENT_TYPE};

use super::assets::{Assets, AssetsBuilder, AssetsSummary};
use super::deploy_body::DeployBody;
use crate::{types, Client, Error};

/// A revision just created by a deploy, with what was uploaded.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// The new revision, as deployApp answered it (usually `queued`).
    pub revision: types::Revision,
    /// The files, links and bytes that were sent.
    pub summary: AssetsSummary,
}

/// A deploy of a directory; see [`Client::deploy_directory`].
///
/// Its `Debug` output shows env var keys but never their values.
#[derive(Clone)]
#[must_use = "call .send() to deploy"]
pub struct DeployDirectory<'a> {
    client: &'a Client,
    app: String,
    assets: AssetsBuilder,
    config: Option<types::Config>,
    production: Option<bool>,
    preview: Option<bool>,
    labels: BTreeMap<String, String>,
    env_vars: Vec<DeployEnvVar>,
}

/// One revision-scoped env var of a deploy.
#[derive(Clone)]
struct DeployEnvVar {
    key: String,
    value: String,
    secret: bool,
}

impl std::fmt::Debug for DeployEnvVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvVar")
            .field("key", &self.key)
            .field("value", &"<redacted>")
            .field("secret", &self.secret)
            .finish()
    }
}

impl std::fmt::Debug for DeployDirectory<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeployDirectory")
            .field("client", &self.client)
            .field("app", &self.app)
            .field("assets", &self.assets)
            .field("config", &self.config)
            .field("production", &self.production)
            .field("preview", &self.preview)
            .field("labels", &self.labels)
            .field("env_vars", &self.env_vars)
            .finish()
    }
}

impl Client {
    /// Deploys the files under `dir` as a new revision of `app` (see [`DeployDirectory::send`]).
    pub fn deploy_directory(
        &self,
        app: impl Into<String>,
        dir: impl Into<PathBuf>,
    ) -> DeployDirectory<'_> {
        DeployDirectory {
            client: self,
            app: app.into(),
            assets: Assets::from_dir(dir),
            config: None,
            production: None,
            preview: None,
            labels: BTreeMap::new(),
            env_vars: Vec::new(),
        }
    }
}

impl<'a> DeployDirectory<'a> {
    /// Only files matching this glob (relative to the directory) are deployed.
    pub fn include(mut self, glob: impl Into<String>) -> Self {
        self.assets = self.assets.include(glob);
        self
    }

    /// Files matching this glob are left out (exclusion wins over inclusion).
    pub fn exclude(mut self, glob: impl Into<String>) -> Self {
        self.assets = self.assets.exclude(glob);
        self
    }

    /// Build and runtime configuration for this revision.
    pub fn config(mut self, config: types::Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Whether the revision takes production traffic (the API's default is yes).
    pub fn production(mut self, production: bool) -> Self {
        self.production = Some(production);
        self
    }

    /// Whether the revision takes preview traffic.
    pub fn preview(mut self, preview: bool) -> Self {
        self.preview = Some(preview);
        self
    }

    /// Adds a label to the revision.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Adds a revision-scoped env var.
    ///
    /// # Errors
    /// Reported by [`Self::send`], before anything is sent: a key or value that breaks the
    /// spec's rules.
    pub fn env_var(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env_vars.push(DeployEnvVar {
            key: key.into(),
            value: value.into(),
            secret: false,
        });
        self
    }

    /// Adds a revision-scoped secret env var: the API stores it but never returns its value.
    ///
    /// # Errors
    /// Reported by [`Self::send`], before anything is sent: a key or value that breaks the
    /// spec's rules.
    pub fn secret_env_var(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env_vars.push(DeployEnvVar {
            key: key.into(),
            value: value.into(),
            secret: true,
        });
        self
    }

    /// Lists the directory and deploys it, streaming the request body.
    ///
    /// The directory is listed first (names, sizes, link targets; no contents) and the request
    /// is checked against the spec's rules from that listing, before anything is read or sent.
    /// Then the body is written as it goes out: each file is read, JSON-escaped (UTF-8 text) or
    /// base64-encoded (anything else) in chunks, so memory stays flat however large the tree.
    /// The bytes are those of the equivalent in-memory [`types::DeployRequest`], assets in key
    /// order.
    ///
    /// A streamed body cannot be replayed, so a deploy is sent exactly once: it is never
    /// retried, even inside [`retry_non_idempotent`](crate::retry_non_idempotent). The upload
    /// gets the client's request timeout plus one second per MiB of files.
    ///
    /// # Errors
    /// [`Error::Assets`] when the directory cannot be listed (a link leaving it, a name that is
    /// not UTF-8, ...) or a file changed between the listing and its upload (a different size
    /// or type: [`AssetsError::FileChanged`](super::assets::AssetsError::FileChanged); the
    /// request is then cut off, so the server never receives a complete body),
    /// [`Error::InvalidInput`] for a request that breaks the spec's rules (an empty app id
    /// included), or the API's error.
    pub async fn send(self) -> Result<Deployed, Error> {
        crate::validate::path_param("app", &self.app)?;
        let env_vars = deploy_env_vars(self.env_vars)?;
        let assets = self.assets.clone();
        let listing = tokio::task::spawn_blocking(move || assets.entries())
            .await
            .map_err(|e| Error::Stream(format!("the directory walk was interrupted: {e}")))??;
        let template = types::DeployRequest {
            assets: Default::default(),
            config: self.config,
            env_vars,
            labels: self.labels.into_iter().collect(),
            layers: Vec::new(),
            preview: self.preview.unwrap_or(false),
            production: self.production.unwrap_or(true),
        };
        let body = DeployBody::new(&template, listing.entries)?;
        let revision = send_streamed(self.client, &self.app, body, listing.summary).await?;
        Ok(Deployed {
            revision,
            summary: listing.summary,
        })
    }
}

/// Sends deployApp through the client's hooks with `body` streamed.
async fn send_streamed(
    client: &Client,
    app: &str,
    body: DeployBody,
    summary: AssetsSummary,
) -> Result<types::Revision, Error> {
    let url = format!(
        "{}/apps/{}/deploy",
        client.baseurl(),
        progenitor_client::encode_path(app)
    );
    // The hooks see the body with empty contents: validation reads it before any file is.
    let mut request = client
        .client()
        .post(url)
        .header(ACCEPT, "application/json")
        .header(CONTENT_TYPE, "application/json")
        .header("api-version", Client::api_version())
        .body(body.skeleton())
        .build()
        .map_err(Error::Transport)?;
    let info = OperationInfo {
        operation_id: "deploy_app",
    };
    client
        .pre::<types::Error>(&mut request, &info)
        .await
        .map_err(Error::from)?;

    let upload = Duration::from_secs(summary.total_bytes / (1024 * 1024));
    let timeout = request.timeout().map(|t| *t + upload);
    *request.timeout_mut() = timeout;
    let failure = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&failure);
    let chunks = body.into_stream().map_err(move |error| {
        let message = error.to_string();
        if let Ok(mut slot) = seen.lock() {
            *slot = Some(error);
        }
        io::Error::other(message)
    });
    *request.body_mut() = Some(reqwest::Body::wrap_stream(chunks));

    let result = client.exec(request, &info).await;
    // A file that changed mid-upload is the cause, whatever the transport made of it.
    if let Some(error) = failure.lock().ok().and_then(|mut slot| slot.take()) {
        return Err(Error::Assets(error));
    }
    client
        .post::<types::Error>(&result, &info)
        .await
        .map_err(Error::from)?;
    let response = result.map_err(Error::Transport)?;
    if !response.status().is_success() {
        return Err(Error::from_response(response).await);
    }
    let bytes = response.bytes().await.map_err(Error::Transport)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
        what: "Revision".into(),
        message: e.to_string(),
    })
}

/// Checks each env var with the spec's rules (the generated newtypes carry them).
fn deploy_env_vars(env_vars: Vec<DeployEnvVar>) -> Result<Vec<types::EnvVarInputForDeploy>, Error> {
    let invalid = |i: usize, name: &str, rule: String| Error::InvalidInput {
        field: format!("env_vars[{i}].{name}"),
        rule,
    };
    env_vars
        .into_iter()
        .enumerate()
        .map(|(i, DeployEnvVar { key, value, secret })| {
            Ok(types::EnvVarInputForDeploy {
                contexts: None,
                key: key
                    .parse()
                    .map_err(|e: types::error::ConversionError| invalid(i, "key", e.to_string()))?,
                secret,
                value: value.parse().map_err(|e: types::error::ConversionError| {
                    invalid(i, "value", e.to_string())
                })?,
            })
        })
        .collect()
}
