//! Validation of request bodies against the spec's request schemas.
//!
//! Bodies are read as `serde_json::Value` and walked by hand, so every 400 names the field
//! (`env_vars[1].key`, `assets["main.ts"].content`) and the rule it broke.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// The slug rule of the spec.
pub(crate) const SLUG_PATTERN: &str = "^[a-z][a-z0-9-]{2,62}$";
/// The env var key rule of the spec.
pub(crate) const ENV_KEY_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]*$";
/// The most labels an app may have.
pub(crate) const MAX_LABELS: usize = 5;
const MAX_ENV_KEY: usize = 128;
const MAX_ENV_VALUE: usize = 4096;

/// A validated `CreateAppRequest`.
#[derive(Debug)]
pub(crate) struct CreateApp {
    pub slug: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub layers: Vec<String>,
    pub env_vars: Vec<EnvVarInput>,
    pub config: Option<Value>,
}

/// A validated `EnvVarInput` or `EnvVarInputForDeploy`.
#[derive(Debug)]
pub(crate) struct EnvVarInput {
    pub key: String,
    pub value: String,
    pub secret: bool,
    pub contexts: Option<Value>,
}

/// A validated `UpdateAppRequest`; `None` fields are left as they are.
#[derive(Debug, Default)]
pub(crate) struct UpdateApp {
    pub slug: Option<String>,
    pub labels: Option<BTreeMap<String, String>>,
    pub layers: Option<Vec<String>>,
    pub env_vars: Option<Vec<EnvVarUpdate>>,
    pub config: Option<Value>,
}

/// A validated `EnvVarUpdate`.
#[derive(Debug)]
pub(crate) struct EnvVarUpdate {
    /// Where the entry sits in the request, for messages (`env_vars[2]`).
    pub path: String,
    pub id: Option<String>,
    pub key: Option<String>,
    /// Absent, `null` (delete), or a new value.
    pub value: Option<Option<String>>,
    pub secret: Option<bool>,
    pub contexts: Option<Value>,
}

/// A validated `DeployRequest`.
#[derive(Debug)]
pub(crate) struct Deploy {
    pub asset_keys: Vec<String>,
    pub config: Option<Value>,
    pub layers: Option<Vec<String>>,
    pub env_vars: Vec<EnvVarInput>,
    pub labels: BTreeMap<String, String>,
    pub production: bool,
    pub preview: bool,
}

/// Parses a request body into a JSON object; an empty body is `None`, or a 400 if required.
pub(crate) fn body_object(bytes: &[u8], required: bool) -> ApiResult<Option<Map<String, Value>>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        if required {
            return Err(ApiError::bad_request(
                "missing_body",
                "request body is required: send a JSON object",
            ));
        }
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("request body is not valid JSON: {e}"),
        )
    })?;
    match value {
        Value::Object(map) => Ok(Some(map)),
        other => Err(ApiError::bad_request(
            "invalid_body",
            format!(
                "request body must be a JSON object, not {}",
                type_name(&other)
            ),
        )),
    }
}

/// Validates a `CreateAppRequest`.
pub(crate) fn create_app(body: &Map<String, Value>) -> ApiResult<CreateApp> {
    Ok(CreateApp {
        slug: body.get("slug").map(slug).transpose()?,
        labels: body
            .get("labels")
            .map(|v| labels(v, "labels", Some(MAX_LABELS)))
            .transpose()?
            .unwrap_or_default(),
        layers: body
            .get("layers")
            .map(|v| layers(v, "layers"))
            .transpose()?
            .unwrap_or_default(),
        env_vars: body
            .get("env_vars")
            .map(|v| env_var_inputs(v, "env_vars"))
            .transpose()?
            .unwrap_or_default(),
        config: body
            .get("config")
            .map(|v| config(v, "config"))
            .transpose()?,
    })
}

/// Validates an `UpdateAppRequest`.
pub(crate) fn update_app(body: &Map<String, Value>) -> ApiResult<UpdateApp> {
    let env_vars = match body.get("env_vars") {
        None => None,
        Some(v) => {
            let items = array(v, "env_vars", "invalid_env_var")?;
            let mut updates = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                updates.push(env_var_update(item, &format!("env_vars[{i}]"))?);
            }
            Some(updates)
        }
    };
    Ok(UpdateApp {
        slug: body.get("slug").map(slug).transpose()?,
        labels: body
            .get("labels")
            .map(|v| labels(v, "labels", Some(MAX_LABELS)))
            .transpose()?,
        layers: body
            .get("layers")
            .map(|v| layers(v, "layers"))
            .transpose()?,
        env_vars,
        config: body
            .get("config")
            .map(|v| config(v, "config"))
            .transpose()?,
    })
}

/// Validates a `DeployRequest`.
pub(crate) fn deploy(body: &Map<String, Value>) -> ApiResult<Deploy> {
    let assets = body
        .get("assets")
        .ok_or_else(|| ApiError::bad_request("missing_field", "assets is required"))?;
    let assets = object(assets, "assets", "invalid_assets")?;
    let mut asset_keys = Vec::with_capacity(assets.len());
    for (key, value) in assets {
        let path = format!("assets[{}]", Value::from(key.as_str()));
        asset_key(key, &path)?;
        asset(key, value, &path)?;
        asset_keys.push(key.clone());
    }
    Ok(Deploy {
        asset_keys,
        config: body
            .get("config")
            .map(|v| config(v, "config"))
            .transpose()?,
        layers: body
            .get("layers")
            .map(|v| layers(v, "layers"))
            .transpose()?,
        env_vars: body
            .get("env_vars")
            .map(|v| env_var_inputs(v, "env_vars"))
            .transpose()?
            .unwrap_or_default(),
        labels: body
            .get("labels")
            .map(|v| labels(v, "labels", None))
            .transpose()?
            .unwrap_or_default(),
        production: body
            .get("production")
            .map(|v| boolean(v, "production", "invalid_field"))
            .transpose()?
            .unwrap_or(true),
        preview: body
            .get("preview")
            .map(|v| boolean(v, "preview", "invalid_field"))
            .transpose()?
            .unwrap_or(false),
    })
}

/// Checks a slug against the spec's pattern.
pub(crate) fn is_slug(s: &str) -> bool {
    let mut chars = s.chars();
    (3..=63).contains(&s.len())
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The JSON type of a value, as JSON Schema names it.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn slug(value: &Value) -> ApiResult<String> {
    let s = string(value, "slug", "invalid_slug")?;
    if !is_slug(&s) {
        return Err(ApiError::bad_request(
            "invalid_slug",
            format!("slug must match {SLUG_PATTERN}"),
        ));
    }
    Ok(s)
}

fn labels(value: &Value, path: &str, max: Option<usize>) -> ApiResult<BTreeMap<String, String>> {
    let map = object(value, path, "invalid_labels")?;
    if let Some(max) = max {
        if map.len() > max {
            return Err(ApiError::bad_request(
                "invalid_labels",
                format!("{path} must have at most {max} entries, got {}", map.len()),
            ));
        }
    }
    map.iter()
        .map(|(k, v)| {
            let field = format!("{path}.{k}");
            Ok((k.clone(), string(v, &field, "invalid_labels")?))
        })
        .collect()
}

fn layers(value: &Value, path: &str) -> ApiResult<Vec<String>> {
    let items = array(value, path, "invalid_layers")?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("{path}[{i}]");
        let map = object(item, &field, "invalid_layers")?;
        let id = map.get("id").ok_or_else(|| {
            ApiError::bad_request("invalid_layers", format!("{field}.id is required"))
        })?;
        let id = string(id, &format!("{field}.id"), "invalid_layers")?;
        if Uuid::parse_str(&id).is_err() && !is_slug(&id) {
            return Err(ApiError::bad_request(
                "invalid_layers",
                format!("{field}.id must be a layer UUID or a slug matching {SLUG_PATTERN}"),
            ));
        }
        out.push(id);
    }
    Ok(out)
}

fn env_var_inputs(value: &Value, path: &str) -> ApiResult<Vec<EnvVarInput>> {
    let items = array(value, path, "invalid_env_var")?;
    let mut out: Vec<EnvVarInput> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("{path}[{i}]");
        let map = object(item, &field, "invalid_env_var")?;
        let key = map.get("key").ok_or_else(|| {
            ApiError::bad_request("invalid_env_var", format!("{field}.key is required"))
        })?;
        let key = env_key(key, &format!("{field}.key"))?;
        let value = map.get("value").ok_or_else(|| {
            ApiError::bad_request("invalid_env_var", format!("{field}.value is required"))
        })?;
        let value = env_value(value, &format!("{field}.value"))?;
        if let Some(first) = out.iter().position(|e| e.key == key) {
            return Err(ApiError::bad_request(
                "invalid_env_var",
                format!("{field}.key `{key}` repeats {path}[{first}].key; keys must be unique"),
            ));
        }
        out.push(EnvVarInput {
            key,
            value,
            secret: map
                .get("secret")
                .map(|v| boolean(v, &format!("{field}.secret"), "invalid_env_var"))
                .transpose()?
                .unwrap_or(false),
            contexts: map
                .get("contexts")
                .map(|v| contexts(v, &format!("{field}.contexts")))
                .transpose()?,
        });
    }
    Ok(out)
}

fn env_var_update(value: &Value, path: &str) -> ApiResult<EnvVarUpdate> {
    let map = object(value, path, "invalid_env_var")?;
    let id = map
        .get("id")
        .map(|v| string(v, &format!("{path}.id"), "invalid_env_var"))
        .transpose()?;
    let key = map
        .get("key")
        .map(|v| env_key(v, &format!("{path}.key")))
        .transpose()?;
    if id.is_none() && key.is_none() {
        return Err(ApiError::bad_request(
            "invalid_env_var",
            format!("{path} needs an id (to change a variable) or a key (to set one)"),
        ));
    }
    let value = match map.get("value") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => Some(Some(env_value(v, &format!("{path}.value"))?)),
    };
    Ok(EnvVarUpdate {
        path: path.to_owned(),
        id,
        key,
        value,
        secret: map
            .get("secret")
            .map(|v| boolean(v, &format!("{path}.secret"), "invalid_env_var"))
            .transpose()?,
        contexts: map
            .get("contexts")
            .map(|v| contexts(v, &format!("{path}.contexts")))
            .transpose()?,
    })
}

fn env_key(value: &Value, path: &str) -> ApiResult<String> {
    let key = string(value, path, "invalid_env_var")?;
    if key.chars().count() > MAX_ENV_KEY {
        return Err(ApiError::bad_request(
            "invalid_env_var",
            format!("{path} must be at most {MAX_ENV_KEY} characters long"),
        ));
    }
    let mut chars = key.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(ApiError::bad_request(
            "invalid_env_var",
            format!("{path} must match {ENV_KEY_PATTERN}"),
        ));
    }
    Ok(key)
}

fn env_value(value: &Value, path: &str) -> ApiResult<String> {
    let s = string(value, path, "invalid_env_var")?;
    if s.chars().count() > MAX_ENV_VALUE {
        return Err(ApiError::bad_request(
            "invalid_env_var",
            format!("{path} must be at most {MAX_ENV_VALUE} characters long"),
        ));
    }
    Ok(s)
}

fn contexts(value: &Value, path: &str) -> ApiResult<Value> {
    match value {
        Value::String(s) if s == "all" => Ok(value.clone()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                string(item, &format!("{path}[{i}]"), "invalid_env_var")?;
            }
            Ok(value.clone())
        }
        _ => Err(ApiError::bad_request(
            "invalid_env_var",
            format!("{path} must be \"all\" or an array of context names"),
        )),
    }
}

/// Validates a `Config` and keeps only the properties the spec defines.
fn config(value: &Value, path: &str) -> ApiResult<Value> {
    const CODE: &str = "invalid_config";
    let map = object(value, path, CODE)?;
    let mut out = Map::new();
    for key in ["framework", "install", "build", "predeploy"] {
        if let Some(v) = map.get(key) {
            out.insert(
                key.into(),
                string(v, &format!("{path}.{key}"), CODE)?.into(),
            );
        }
    }
    if let Some(runtime) = map.get("runtime") {
        out.insert(
            "runtime".into(),
            self::runtime(runtime, &format!("{path}.runtime"))?,
        );
    }
    if let Some(crons) = map.get("crons") {
        let field = format!("{path}.crons");
        let items = array(crons, &field, CODE)?;
        let mut jobs = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let field = format!("{field}[{i}]");
            let job = object(item, &field, CODE)?;
            let mut kept = Map::new();
            for key in ["name", "schedule", "handler"] {
                let v = job.get(key).ok_or_else(|| {
                    ApiError::bad_request(CODE, format!("{field}.{key} is required"))
                })?;
                kept.insert(
                    key.into(),
                    string(v, &format!("{field}.{key}"), CODE)?.into(),
                );
            }
            jobs.push(Value::Object(kept));
        }
        out.insert("crons".into(), Value::Array(jobs));
    }
    Ok(Value::Object(out))
}

fn runtime(value: &Value, path: &str) -> ApiResult<Value> {
    const CODE: &str = "invalid_config";
    let map = object(value, path, CODE)?;
    let mut out = Map::new();
    let kind = map
        .get("type")
        .ok_or_else(|| ApiError::bad_request(CODE, format!("{path}.type is required")))?;
    let kind = string(kind, &format!("{path}.type"), CODE)?;
    one_of(&kind, &["dynamic", "static"], &format!("{path}.type"), CODE)?;
    out.insert("type".into(), kind.into());
    for key in ["entrypoint", "cwd"] {
        if let Some(v) = map.get(key) {
            out.insert(
                key.into(),
                string(v, &format!("{path}.{key}"), CODE)?.into(),
            );
        }
    }
    if let Some(args) = map.get("args") {
        let field = format!("{path}.args");
        let items = array(args, &field, CODE)?;
        for (i, item) in items.iter().enumerate() {
            string(item, &format!("{field}[{i}]"), CODE)?;
        }
        out.insert("args".into(), args.clone());
    }
    if let Some(spa) = map.get("spa") {
        out.insert(
            "spa".into(),
            boolean(spa, &format!("{path}.spa"), CODE)?.into(),
        );
    }
    Ok(Value::Object(out))
}

fn asset_key(key: &str, path: &str) -> ApiResult<()> {
    let rule = if key.is_empty() {
        Some("must not be empty")
    } else if key.starts_with('/') {
        Some("must be relative to /app/src, without a leading `/`")
    } else if key.split('/').any(|segment| segment == "..") {
        Some("must not contain a `..` segment")
    } else if key.contains('\0') {
        Some("must not contain a NUL character")
    } else if key.contains('\\') {
        Some("must not contain a backslash (`/` separates folders)")
    } else {
        None
    };
    match rule {
        Some(rule) => Err(ApiError::bad_request(
            "invalid_assets",
            format!("asset path {path} {rule}"),
        )),
        None => Ok(()),
    }
}

/// What is wrong with a symlink's target, if anything: it must be relative and, resolved from
/// the folder of the link at `key`, stay inside the source folder, as the client's own walk
/// requires of the links it uploads.
fn symlink_target_rule(key: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return Some("must be relative, not absolute".to_owned());
    }
    if target.contains('\0') {
        return Some("must not contain a NUL character".to_owned());
    }
    if target.contains('\\') {
        return Some("must not contain a backslash (`/` separates folders)".to_owned());
    }
    let mut folders: Vec<&str> = key.split('/').collect();
    folders.pop();
    for segment in target.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if folders.pop().is_none() {
                    let from = match key.rsplit_once('/') {
                        Some((folder, _)) => format!("`{folder}`"),
                        None => "the source folder's root".to_owned(),
                    };
                    return Some(format!(
                        "must stay inside the source folder, resolved from the link's folder ({from})"
                    ));
                }
            }
            name => folders.push(name),
        }
    }
    None
}

fn asset(key: &str, value: &Value, path: &str) -> ApiResult<()> {
    const CODE: &str = "invalid_assets";
    let map = object(value, path, CODE)?;
    let kind = map
        .get("kind")
        .ok_or_else(|| ApiError::bad_request(CODE, format!("{path}.kind is required")))?;
    let kind = string(kind, &format!("{path}.kind"), CODE)?;
    one_of(&kind, &["file", "symlink"], &format!("{path}.kind"), CODE)?;
    // Every member present must have its type, whatever the kind needs.
    for member in ["encoding", "content", "target"] {
        if let Some(value) = map.get(member) {
            string(value, &format!("{path}.{member}"), CODE)?;
        }
    }
    if kind == "symlink" {
        let target = map.get("target").ok_or_else(|| {
            ApiError::bad_request(CODE, format!("{path}.target is required for a symlink"))
        })?;
        let target = string(target, &format!("{path}.target"), CODE)?;
        if target.is_empty() {
            return Err(ApiError::bad_request(
                CODE,
                format!("{path}.target must not be empty"),
            ));
        }
        if let Some(rule) = symlink_target_rule(key, &target) {
            return Err(ApiError::bad_request(
                CODE,
                format!("{path}.target: symlink target `{target}` {rule}"),
            ));
        }
        return Ok(());
    }
    let encoding = map.get("encoding").ok_or_else(|| {
        ApiError::bad_request(CODE, format!("{path}.encoding is required for a file"))
    })?;
    let encoding = string(encoding, &format!("{path}.encoding"), CODE)?;
    one_of(
        &encoding,
        &["utf-8", "base64"],
        &format!("{path}.encoding"),
        CODE,
    )?;
    let content = map.get("content").ok_or_else(|| {
        ApiError::bad_request(CODE, format!("{path}.content is required for a file"))
    })?;
    let content = string(content, &format!("{path}.content"), CODE)?;
    if encoding == "base64" {
        base64::engine::general_purpose::STANDARD
            .decode(content.as_bytes())
            .map_err(|e| {
                ApiError::bad_request(CODE, format!("{path}.content is not valid base64: {e}"))
            })?;
    }
    Ok(())
}

fn one_of(value: &str, allowed: &[&str], path: &str, code: &'static str) -> ApiResult<()> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(ApiError::bad_request(
        code,
        format!(
            "{path} must be one of {}, not `{value}`",
            allowed.join(", ")
        ),
    ))
}

fn string(value: &Value, path: &str, code: &'static str) -> ApiResult<String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| wrong_type(value, path, "a string", code))
}

fn boolean(value: &Value, path: &str, code: &'static str) -> ApiResult<bool> {
    value
        .as_bool()
        .ok_or_else(|| wrong_type(value, path, "a boolean", code))
}

fn object<'a>(
    value: &'a Value,
    path: &str,
    code: &'static str,
) -> ApiResult<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| wrong_type(value, path, "an object", code))
}

fn array<'a>(value: &'a Value, path: &str, code: &'static str) -> ApiResult<&'a Vec<Value>> {
    value
        .as_array()
        .ok_or_else(|| wrong_type(value, path, "an array", code))
}

fn wrong_type(value: &Value, path: &str, expected: &str, code: &'static str) -> ApiError {
    ApiError::bad_request(
        code,
        format!("{path} must be {expected}, not {}", type_name(value)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn slugs_follow_the_spec_pattern() {
        for good in ["abc", "my-app-1", "a--", &"a".repeat(63)] {
            assert!(is_slug(good), "{good}");
        }
        for bad in [
            "ab",
            "1abc",
            "Abc",
            "my_app",
            "-abc",
            &"a".repeat(64),
            "ünï",
        ] {
            assert!(!is_slug(bad), "{bad}");
        }
    }

    #[test]
    fn a_wrong_type_names_the_field_and_the_type() {
        let err = create_app(&map(json!({"labels": {"team": 5}}))).unwrap_err();
        assert_eq!(err.message, "labels.team must be a string, not integer");
        assert_eq!(err.code, "invalid_labels");
    }

    #[test]
    fn env_keys_are_checked_for_pattern_and_length() {
        let err = create_app(&map(json!({"env_vars": [{"key": "1X", "value": ""}]}))).unwrap_err();
        assert_eq!(
            err.message,
            format!("env_vars[0].key must match {ENV_KEY_PATTERN}")
        );
        let long = "K".repeat(129);
        let err = create_app(&map(json!({"env_vars": [{"key": long, "value": ""}]}))).unwrap_err();
        assert_eq!(
            err.message,
            "env_vars[0].key must be at most 128 characters long"
        );
    }

    #[test]
    fn an_asset_member_of_the_wrong_type_is_refused_whatever_the_kind() {
        let file = json!({"kind": "file", "encoding": "utf-8", "content": "", "target": {}});
        let err = deploy(&map(json!({"assets": {"main.ts": file}}))).unwrap_err();
        assert_eq!(
            err.message,
            r#"assets["main.ts"].target must be a string, not object"#
        );

        let link = json!({"kind": "symlink", "target": "main.ts", "encoding": 1});
        let err = deploy(&map(json!({"assets": {"link.ts": link}}))).unwrap_err();
        assert_eq!(
            err.message,
            r#"assets["link.ts"].encoding must be a string, not integer"#
        );
    }

    #[test]
    fn asset_paths_must_stay_inside_the_source_folder() {
        for (key, rule) in [
            ("/etc/passwd", "leading `/`"),
            ("a/../../b", "`..` segment"),
            ("", "must not be empty"),
        ] {
            let body =
                map(json!({"assets": {key: {"kind": "file", "encoding": "utf-8", "content": ""}}}));
            let err = deploy(&body).unwrap_err();
            assert!(err.message.contains(rule), "{key}: {}", err.message);
        }
    }

    #[test]
    fn asset_paths_with_a_nul_or_a_backslash_are_refused() {
        for (key, rule) in [
            ("a\u{0}b", "must not contain a NUL character"),
            ("a\\..\\..\\b", "must not contain a backslash"),
        ] {
            let body =
                map(json!({"assets": {key: {"kind": "file", "encoding": "utf-8", "content": ""}}}));
            let err = deploy(&body).unwrap_err();
            assert_eq!(err.code, "invalid_assets");
            assert!(
                err.message.starts_with("asset path assets["),
                "{}",
                err.message
            );
            assert!(err.message.contains(rule), "{key:?}: {}", err.message);
        }
    }

    #[test]
    fn symlink_targets_must_be_relative_and_stay_inside_the_source_folder() {
        for (key, target, message) in [
            (
                "link",
                "/etc/passwd",
                r#"assets["link"].target: symlink target `/etc/passwd` must be relative, not absolute"#,
            ),
            (
                "a/link",
                "../../x",
                r#"assets["a/link"].target: symlink target `../../x` must stay inside the source folder, resolved from the link's folder (`a`)"#,
            ),
            (
                "link",
                "../x",
                r#"assets["link"].target: symlink target `../x` must stay inside the source folder, resolved from the link's folder (the source folder's root)"#,
            ),
            (
                "link",
                "a\\b",
                r#"assets["link"].target: symlink target `a\b` must not contain a backslash (`/` separates folders)"#,
            ),
        ] {
            let body = map(json!({"assets": {key: {"kind": "symlink", "target": target}}}));
            let err = deploy(&body).unwrap_err();
            assert_eq!(err.code, "invalid_assets");
            assert_eq!(err.message, message);
        }
        let err = deploy(&map(
            json!({"assets": {"l": {"kind": "symlink", "target": "a\u{0}b"}}}),
        ))
        .unwrap_err();
        assert!(
            err.message.ends_with("must not contain a NUL character"),
            "{}",
            err.message
        );
        // A target that climbs no higher than the source folder is fine.
        for (key, target) in [
            ("a/b/link", "../../main.ts"),
            ("a/link", "./b/../c"),
            ("link", "main.ts"),
        ] {
            let body = map(json!({"assets": {key: {"kind": "symlink", "target": target}}}));
            assert!(deploy(&body).is_ok(), "{key} -> {target}");
        }
    }

    #[test]
    fn a_config_keeps_only_the_properties_of_the_spec() {
        let body = map(json!({"config": {"framework": "fresh", "extra": 1,
            "runtime": {"type": "dynamic", "entrypoint": "main.ts", "other": true}}}));
        let app = create_app(&body).unwrap();
        assert_eq!(
            app.config,
            Some(
                json!({"framework": "fresh", "runtime": {"type": "dynamic", "entrypoint": "main.ts"}})
            )
        );
    }

    #[test]
    fn an_empty_body_is_none_unless_required() {
        assert!(body_object(b"", false).unwrap().is_none());
        assert_eq!(body_object(b" ", true).unwrap_err().code, "missing_body");
        assert_eq!(body_object(b"[1]", true).unwrap_err().code, "invalid_body");
        assert_eq!(body_object(b"{", true).unwrap_err().code, "invalid_json");
    }
}
