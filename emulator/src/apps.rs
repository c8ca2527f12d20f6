//! The app operations: listApps, createApp, getApp, updateApp and deleteApp.
//!
//! Apps are found by UUID or slug. PATCH replaces labels, layers and config, and deep-merges
//! env vars; deleting an app deletes its revisions and logs.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use chrono::Utc;
use serde_json::Value;
use uuid::Uuid;

use crate::error::{json_response, ApiError, ApiResult};
use crate::query::{decode_cursor, encode_cursor, next_link, CursorKind, QueryParams};
use crate::store::{now_after, random_token, AppRecord, EnvVarRecord, Shared, Store};
use crate::validate::{self, EnvVarUpdate};

/// `GET /v2/apps`: newest first, filtered by `labels[k]=v` and `layer`, paginated by cursor.
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    let query = QueryParams::parse(raw.as_deref());
    let limit = query.limit(30, 100)?;
    let labels = query.labels()?;
    let layer = query.get("layer").map(str::to_owned);
    let before = query
        .get("cursor")
        .map(|c| decode_cursor(CursorKind::Apps, c))
        .transpose()?;
    let store = shared.store();
    let mut matching = store
        .apps
        .iter()
        .rev()
        .filter(|app| before.is_none_or(|b| app.seq < b))
        .filter(|app| labels.iter().all(|(k, v)| app.labels.get(k) == Some(v)))
        .filter(|app| layer.as_ref().is_none_or(|l| app.layers.contains(l)));
    let page: Vec<&AppRecord> = matching.by_ref().take(limit).collect();
    let more = matching.next().is_some();
    let body: Vec<Value> = page.iter().map(|app| app.to_list_item()).collect();
    let mut response = json_response(StatusCode::OK, &body);
    if let (true, Some(last)) = (more, page.last()) {
        let mut params: Vec<(&str, String)> = vec![("limit", limit.to_string())];
        let label_params: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (format!("labels[{k}]"), v.clone()))
            .collect();
        params.extend(label_params.iter().map(|(k, v)| (k.as_str(), v.clone())));
        if let Some(layer) = &layer {
            params.push(("layer", layer.clone()));
        }
        params.push(("cursor", encode_cursor(CursorKind::Apps, last.seq)));
        let link = next_link(&shared.settings, &headers, uri.path(), &params);
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

/// `POST /v2/apps`: answers 200 with the new app, as the spec says.
pub(crate) async fn create(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = validate::body_object(&body, true)?.unwrap_or_default();
    let input = validate::create_app(&body)?;
    let mut store = shared.store();
    let slug = match input.slug {
        Some(slug) => {
            ensure_slug_free(&store, &slug, None)?;
            slug
        }
        None => generated_slug(&store),
    };
    let now = Utc::now();
    let seq = store.next_seq();
    let app = AppRecord {
        seq,
        id: Uuid::new_v4(),
        slug,
        labels: input.labels,
        layers: input.layers,
        env_vars: input
            .env_vars
            .into_iter()
            .map(|e| EnvVarRecord::new(e.key, e.value, e.secret, e.contexts))
            .collect(),
        config: input.config,
        created_at: now,
        updated_at: now,
        production: None,
        preview: None,
    };
    let body = app.to_json();
    store.apps.push(app);
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /v2/apps/{app}`.
pub(crate) async fn get(State(shared): State<Arc<Shared>>, Path(app): Path<String>) -> ApiResult {
    let store = shared.store();
    let index = store
        .app_index(&app)
        .ok_or_else(|| ApiError::app_not_found(&app))?;
    Ok(json_response(StatusCode::OK, &store.apps[index].to_json()))
}

/// `PATCH /v2/apps/{app}`: all or nothing; a failed update changes nothing.
pub(crate) async fn update(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
    body: Bytes,
) -> ApiResult {
    let mut store = shared.store();
    let index = store
        .app_index(&app)
        .ok_or_else(|| ApiError::app_not_found(&app))?;
    let body = validate::body_object(&body, false)?.unwrap_or_default();
    let input = validate::update_app(&body)?;
    let mut updated = store.apps[index].clone();
    if let Some(slug) = input.slug {
        ensure_slug_free(&store, &slug, Some(updated.id))?;
        updated.slug = slug;
    }
    if let Some(labels) = input.labels {
        updated.labels = labels;
    }
    if let Some(layers) = input.layers {
        updated.layers = layers;
    }
    if let Some(updates) = input.env_vars {
        merge_env_vars(&mut updated.env_vars, updates)?;
    }
    if let Some(config) = input.config {
        updated.config = Some(config);
    }
    updated.updated_at = now_after(updated.updated_at);
    let body = updated.to_json();
    store.apps[index] = updated;
    Ok(json_response(StatusCode::OK, &body))
}

/// `DELETE /v2/apps/{app}`: the app, its revisions and its logs go.
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
) -> ApiResult {
    {
        let mut store = shared.store();
        let index = store
            .app_index(&app)
            .ok_or_else(|| ApiError::app_not_found(&app))?;
        let removed = store.apps.remove(index);
        store.revisions.retain(|r| r.app_id != removed.id);
        store.logs.retain(|l| l.app_id != removed.id);
    }
    shared.notify();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Applies env var updates in order: by `id`, or else by `key` (creating the variable when
/// no variable has that key); `value: null` deletes, and deleting a variable the app does not
/// have (by id or by key) is refused with `unknown_env_var`.
fn merge_env_vars(vars: &mut Vec<EnvVarRecord>, updates: Vec<EnvVarUpdate>) -> ApiResult<()> {
    for update in updates {
        let index = match (&update.id, &update.key) {
            (Some(id), _) => Some(vars.iter().position(|v| v.id == *id).ok_or_else(|| {
                ApiError::bad_request(
                    "unknown_env_var",
                    format!(
                        "{}.id: the app has no environment variable with id `{id}`",
                        update.path
                    ),
                )
            })?),
            (None, Some(key)) => vars.iter().position(|v| v.key == *key),
            (None, None) => None,
        };
        match index {
            Some(i) if update.value == Some(None) => {
                vars.remove(i);
            }
            Some(i) => {
                if let Some(key) = &update.key {
                    if let Some(other) = vars.iter().position(|v| v.key == *key).filter(|o| *o != i)
                    {
                        return Err(ApiError::bad_request(
                            "invalid_env_var",
                            format!(
                                "{}.key `{key}` is already the key of variable `{}`",
                                update.path, vars[other].id
                            ),
                        ));
                    }
                    vars[i].key = key.clone();
                }
                let var = &mut vars[i];
                if let Some(Some(value)) = update.value {
                    var.value = value;
                }
                if let Some(secret) = update.secret {
                    var.secret = secret;
                }
                if let Some(contexts) = update.contexts {
                    var.contexts = contexts;
                }
            }
            None => {
                let key = update.key.clone().unwrap_or_default();
                match update.value {
                    Some(Some(value)) => vars.push(EnvVarRecord::new(
                        key,
                        value,
                        update.secret.unwrap_or(false),
                        update.contexts,
                    )),
                    // Deleting a variable the app does not have is refused, by key as by id.
                    Some(None) => {
                        return Err(ApiError::bad_request(
                            "unknown_env_var",
                            format!(
                                "{}.key: the app has no environment variable with key `{key}` to delete",
                                update.path
                            ),
                        ))
                    }
                    None => {
                        return Err(ApiError::bad_request(
                            "invalid_env_var",
                            format!(
                                "{}.value is required to create variable `{key}`",
                                update.path
                            ),
                        ))
                    }
                }
            }
        }
    }
    Ok(())
}

fn ensure_slug_free(store: &Store, slug: &str, except: Option<Uuid>) -> ApiResult<()> {
    let taken = store
        .apps
        .iter()
        .any(|a| a.slug == slug && Some(a.id) != except);
    if taken {
        return Err(ApiError::conflict(
            "slug_taken",
            format!("slug `{slug}` is already taken by another app"),
        ));
    }
    Ok(())
}

/// A free slug such as `quiet-river-3f9a1c`.
fn generated_slug(store: &Store) -> String {
    const FIRST: [&str; 8] = [
        "quiet", "brave", "rapid", "gentle", "bright", "silent", "golden", "lucky",
    ];
    const SECOND: [&str; 8] = [
        "river", "falcon", "meadow", "comet", "harbor", "canyon", "forest", "island",
    ];
    loop {
        let token = random_token(8);
        let pick = |offset: usize| usize::from_str_radix(&token[offset..offset + 1], 16);
        let first = FIRST[pick(0).unwrap_or(0) % FIRST.len()];
        let second = SECOND[pick(1).unwrap_or(0) % SECOND.len()];
        let slug = format!("{first}-{second}-{}", &token[2..]);
        if store.apps.iter().all(|a| a.slug != slug) {
            return slug;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(
        path: &str,
        id: Option<&str>,
        key: Option<&str>,
        value: Option<Option<&str>>,
    ) -> EnvVarUpdate {
        EnvVarUpdate {
            path: path.to_owned(),
            id: id.map(str::to_owned),
            key: key.map(str::to_owned),
            value: value.map(|v| v.map(str::to_owned)),
            secret: None,
            contexts: None,
        }
    }

    #[test]
    fn generated_slugs_match_the_slug_pattern() {
        let store = Store::default();
        for _ in 0..50 {
            let slug = generated_slug(&store);
            assert!(validate::is_slug(&slug), "{slug}");
        }
    }

    #[test]
    fn env_var_updates_merge_by_id_and_by_key() {
        let mut vars = vec![
            EnvVarRecord::new("A".into(), "1".into(), false, None),
            EnvVarRecord::new("B".into(), "2".into(), true, None),
        ];
        let a_id = vars[0].id.clone();
        merge_env_vars(
            &mut vars,
            vec![
                update("env_vars[0]", Some(&a_id), None, Some(Some("10"))),
                update("env_vars[1]", None, Some("B"), Some(None)),
                update("env_vars[2]", None, Some("C"), Some(Some("3"))),
            ],
        )
        .unwrap();
        let pairs: Vec<(&str, &str)> = vars
            .iter()
            .map(|v| (v.key.as_str(), v.value.as_str()))
            .collect();
        assert_eq!(pairs, [("A", "10"), ("C", "3")]);
        assert_eq!(vars[0].id, a_id);
    }

    #[test]
    fn an_unknown_env_var_id_is_refused_by_name() {
        let mut vars = Vec::new();
        let err = merge_env_vars(
            &mut vars,
            vec![update("env_vars[0]", Some("env_x"), None, None)],
        )
        .unwrap_err();
        assert_eq!(err.code, "unknown_env_var");
        assert!(err.message.contains("env_vars[0].id"), "{}", err.message);
    }

    #[test]
    fn deleting_an_unknown_env_var_key_is_refused_by_name() {
        let mut vars = vec![EnvVarRecord::new("A".into(), "1".into(), false, None)];
        let err = merge_env_vars(
            &mut vars,
            vec![update("env_vars[1]", None, Some("NOPE"), Some(None))],
        )
        .unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.code, "unknown_env_var");
        assert!(err.message.contains("env_vars[1].key"), "{}", err.message);
        assert!(err.message.contains("`NOPE`"), "{}", err.message);
        assert_eq!(vars.len(), 1, "nothing was deleted");
    }
}
