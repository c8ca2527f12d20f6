//! Deploying a directory in one call: collect its files into assets, then deployApp.
//!
//! The directory walk is [`super::assets`]; this file only adds the deploy's own options
//! (config, production or preview, labels, env vars) and sends the request.

use std::{collections::BTreeMap, path::PathBuf};

use super::assets::{Assets, AssetsBuilder, AssetsSummary};
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
#[derive(Debug, Clone)]
#[must_use = "call .send() to deploy"]
pub struct DeployDirectory<'a> {
    client: &'a Client,
    app: String,
    assets: AssetsBuilder,
    config: Option<types::Config>,
    production: Option<bool>,
    preview: Option<bool>,
    labels: BTreeMap<String, String>,
    env_vars: Vec<(String, String)>,
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
        self.env_vars.push((key.into(), value.into()));
        self
    }

    /// Collects the directory and deploys it.
    ///
    /// # Errors
    /// [`Error::Assets`] when the directory cannot be collected (a link leaving it, a name
    /// that is not UTF-8, ...), [`Error::InvalidInput`] for a request that breaks the spec's
    /// rules, or the API's error.
    pub async fn send(self) -> Result<Deployed, Error> {
        let env_vars = deploy_env_vars(self.env_vars)?;
        let assets = self.assets.clone();
        let collected = tokio::task::spawn_blocking(move || assets.collect())
            .await
            .map_err(|e| Error::Stream(format!("the directory walk was interrupted: {e}")))??;
        let body = types::DeployRequest {
            assets: collected.assets.into_iter().collect(),
            config: self.config,
            env_vars,
            labels: self.labels.into_iter().collect(),
            layers: Vec::new(),
            preview: self.preview.unwrap_or(false),
            production: self.production.unwrap_or(true),
        };
        let revision = self
            .client
            .deploy_app()
            .app(self.app)
            .body(body)
            .send()
            .await
            .map_err(Error::from)?
            .into_inner();
        Ok(Deployed {
            revision,
            summary: collected.summary,
        })
    }
}

/// Checks each env var with the spec's rules (the generated newtypes carry them).
fn deploy_env_vars(
    env_vars: Vec<(String, String)>,
) -> Result<Vec<types::EnvVarInputForDeploy>, Error> {
    let invalid = |i: usize, name: &str, rule: String| Error::InvalidInput {
        field: format!("env_vars[{i}].{name}"),
        rule,
    };
    env_vars
        .into_iter()
        .enumerate()
        .map(|(i, (key, value))| {
            Ok(types::EnvVarInputForDeploy {
                contexts: None,
                key: key
                    .parse()
                    .map_err(|e: types::error::ConversionError| invalid(i, "key", e.to_string()))?,
                secret: false,
                value: value.parse().map_err(|e: types::error::ConversionError| {
                    invalid(i, "value", e.to_string())
                })?,
            })
        })
        .collect()
}
