//! updateApp's request body as a typed merge patch: labels, layers, slug, config, env vars.
//!
//! It replaces the generated `UpdateAppRequest`, which cannot send an explicit `null` (the env var
//! delete) nor an empty `{}` or `[]` (clearing labels or layers). Fields left untouched are
//! absent from the JSON, so the server leaves them as they are.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use crate::types;

/// The body of updateApp: only what is set here is changed.
///
/// ```
/// use deno_deploy::ext::{AppUpdate, EnvVarPatch};
///
/// let update = AppUpdate::new()
///     .env_var(EnvVarPatch::delete("env_01"))
///     .env_var(EnvVarPatch::update("env_02").secret(true))
///     .env_var(EnvVarPatch::set("API_URL", "https://example.invalid"));
/// assert_eq!(
///     serde_json::to_string(&update).unwrap(),
///     r#"{"env_vars":[{"id":"env_01","value":null},{"id":"env_02","secret":true},{"key":"API_URL","value":"https://example.invalid"}]}"#
/// );
/// ```
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct AppUpdate {
    /// New slug for the app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    /// Replacement labels: all existing labels are replaced (`{}` clears them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Replacement layer references (`[]` detaches every layer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<types::LayerRefInput>>,
    /// Env var changes, merged into the app's variables in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env_vars: Vec<EnvVarPatch>,
    /// New build and runtime configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<types::Config>,
}

impl AppUpdate {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Renames the app.
    pub fn slug(mut self, slug: impl Into<String>) -> Self {
        self.slug = Some(slug.into());
        self
    }

    /// Replaces all labels with these.
    pub fn labels<K, V>(mut self, labels: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        let labels = labels.into_iter().map(|(k, v)| (k.into(), v.into()));
        self.labels = Some(labels.collect());
        self
    }

    /// Removes every label (sends `"labels": {}`).
    pub fn clear_labels(mut self) -> Self {
        self.labels = Some(BTreeMap::new());
        self
    }

    /// Replaces all layer references with these layer ids or slugs, in order.
    pub fn layers<S: Into<String>>(mut self, layers: impl IntoIterator<Item = S>) -> Self {
        let layers = layers
            .into_iter()
            .map(|id| types::LayerRefInput { id: id.into() });
        self.layers = Some(layers.collect());
        self
    }

    /// Detaches every layer (sends `"layers": []`).
    pub fn clear_layers(mut self) -> Self {
        self.layers = Some(Vec::new());
        self
    }

    /// Adds one env var change.
    pub fn env_var(mut self, patch: EnvVarPatch) -> Self {
        self.env_vars.push(patch);
        self
    }

    /// Adds several env var changes.
    pub fn env_vars(mut self, patches: impl IntoIterator<Item = EnvVarPatch>) -> Self {
        self.env_vars.extend(patches);
        self
    }

    /// Replaces the build and runtime configuration.
    pub fn config(mut self, config: types::Config) -> Self {
        self.config = Some(config);
        self
    }
}

/// One env var change in an [`AppUpdate`]: create, update, or delete a variable.
///
/// Its `Debug` output never shows a value it sets, secret or not (the variable may be a secret
/// already, rotated by key).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct EnvVarPatch {
    /// The id of the existing variable to change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The variable's key: names the variable when there is no id, renames it otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The new value, an explicit `null` that deletes the variable, or absent to keep it.
    #[serde(skip_serializing_if = "ValuePatch::is_keep")]
    #[schemars(with = "Option<String>")]
    pub value: ValuePatch,
    /// Whether the value is a secret (never returned by the API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<bool>,
    /// The deployment contexts in which the variable is active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contexts: Option<Contexts>,
}

/// What a patch does to a variable's value. Its `Debug` output never shows a value it sets.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum ValuePatch {
    /// Leave the value as it is (the field is absent from the JSON).
    #[default]
    Keep,
    /// Set this value.
    Set(String),
    /// Delete the variable (`"value": null`).
    Delete,
}

impl std::fmt::Debug for ValuePatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValuePatch::Keep => f.write_str("Keep"),
            ValuePatch::Set(_) => f.write_str("Set(<redacted>)"),
            ValuePatch::Delete => f.write_str("Delete"),
        }
    }
}

impl ValuePatch {
    fn is_keep(&self) -> bool {
        matches!(self, ValuePatch::Keep)
    }
}

impl Serialize for ValuePatch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ValuePatch::Set(value) => serializer.serialize_str(value),
            ValuePatch::Keep | ValuePatch::Delete => serializer.serialize_none(),
        }
    }
}

/// The deployment contexts an env var is active in.
#[derive(Debug, Clone, PartialEq, Eq, schemars::JsonSchema)]
pub enum Contexts {
    /// Every context (`"all"`).
    All,
    /// Only these named contexts.
    Only(Vec<String>),
}

impl Contexts {
    /// Only the named contexts.
    pub fn only<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        Contexts::Only(names.into_iter().map(Into::into).collect())
    }
}

impl Serialize for Contexts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Contexts::All => serializer.serialize_str("all"),
            Contexts::Only(names) => names.serialize(serializer),
        }
    }
}

impl EnvVarPatch {
    fn empty() -> Self {
        Self {
            id: None,
            key: None,
            value: ValuePatch::Keep,
            secret: None,
            contexts: None,
        }
    }

    /// Sets `key` to `value`, creating the variable when the app has none of that key.
    pub fn set(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: Some(key.into()),
            value: ValuePatch::Set(value.into()),
            ..Self::empty()
        }
    }

    /// Sets `key` to a secret `value`.
    pub fn set_secret(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self::set(key, value).secret(true)
    }

    /// Changes the existing variable `id`; only the fields set afterwards are sent.
    pub fn update(id: impl Into<String>) -> Self {
        Self {
            id: Some(id.into()),
            ..Self::empty()
        }
    }

    /// Deletes the variable `id`.
    pub fn delete(id: impl Into<String>) -> Self {
        Self {
            id: Some(id.into()),
            value: ValuePatch::Delete,
            ..Self::empty()
        }
    }

    /// Deletes the variable named `key`.
    pub fn delete_key(key: impl Into<String>) -> Self {
        Self {
            key: Some(key.into()),
            value: ValuePatch::Delete,
            ..Self::empty()
        }
    }

    /// Sets the value.
    pub fn value(mut self, value: impl Into<String>) -> Self {
        self.value = ValuePatch::Set(value.into());
        self
    }

    /// Renames the variable (with [`Self::update`]) or names it.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Marks the value secret, or not.
    pub fn secret(mut self, secret: bool) -> Self {
        self.secret = Some(secret);
        self
    }

    /// Sets the contexts the variable is active in.
    pub fn contexts(mut self, contexts: Contexts) -> Self {
        self.contexts = Some(contexts);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_merge_patch_sends_null_for_a_delete_and_omits_untouched_fields() {
        let update = AppUpdate::new()
            .env_var(EnvVarPatch::delete("env_01"))
            .env_var(EnvVarPatch::update("env_02").secret(true))
            .env_var(EnvVarPatch::set("API_URL", "https://example.invalid"));
        assert_eq!(
            serde_json::to_string(&update).unwrap(),
            r#"{"env_vars":[{"id":"env_01","value":null},{"id":"env_02","secret":true},{"key":"API_URL","value":"https://example.invalid"}]}"#
        );
    }

    #[test]
    fn clearing_labels_and_layers_sends_empty_values() {
        let update = AppUpdate::new().clear_labels().clear_layers();
        assert_eq!(
            serde_json::to_value(&update).unwrap(),
            json!({"labels": {}, "layers": []})
        );
        assert_eq!(serde_json::to_value(AppUpdate::new()).unwrap(), json!({}));
    }

    #[test]
    fn contexts_are_all_or_a_list_and_delete_by_key_works() {
        let patches = [
            EnvVarPatch::set_secret("TOKEN", "t").contexts(Contexts::All),
            EnvVarPatch::delete_key("OLD").contexts(Contexts::only(["preview"])),
        ];
        assert_eq!(
            serde_json::to_value(patches).unwrap(),
            json!([
                {"key": "TOKEN", "value": "t", "secret": true, "contexts": "all"},
                {"key": "OLD", "value": null, "contexts": ["preview"]}
            ])
        );
    }
}
