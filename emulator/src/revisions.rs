//! The revision operations: deployApp, listRevisions, getRevision, deleteRevision,
//! cancelRevision and streamRevisionProgress, with the simulated build behind them.
//!
//! A build walks queued -> preparing -> installing -> building -> deploying, one stage per
//! build delay, and fails at `building` when the dynamic entrypoint is not among the assets.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use chrono::Utc;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::error::{json_response, ApiError, ApiResult};
use crate::logs::LogLevel;
use crate::query::{decode_cursor, encode_cursor, next_link, CursorKind, QueryParams};
use crate::store::{
    now_after, random_token, EnvVarRecord, Failure, Progress, RevisionRecord, RevisionStatus,
    Shared, StageState, Store, REGIONS,
};
use crate::stream::{self, Format};
use crate::validate;

/// `POST /v2/apps/{app}/deploy`: validates, answers 202 with the queued revision, and starts
/// its build.
pub(crate) async fn deploy(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
    body: Bytes,
) -> ApiResult {
    let revision = {
        let mut store = shared.store();
        let app_index = store
            .app_index(&app)
            .ok_or_else(|| ApiError::app_not_found(&app))?;
        let body = validate::body_object(&body, true)?.unwrap_or_default();
        let input = validate::deploy(&body)?;
        let app = &store.apps[app_index];
        let config = input.config.or_else(|| app.config.clone());
        let mut env_vars = app.env_vars.clone();
        for var in input.env_vars {
            let record = EnvVarRecord::new(var.key, var.value, var.secret, var.contexts);
            match env_vars.iter_mut().find(|v| v.key == record.key) {
                Some(existing) => *existing = record,
                None => env_vars.push(record),
            }
        }
        let now = Utc::now();
        let mut progress = Progress::default();
        progress.queued.status = StageState::Running;
        progress.queued.started_at = Some(now);
        let revision = RevisionRecord {
            seq: 0,
            id: format!("rev_{}", random_token(20)),
            app_id: app.id,
            status: RevisionStatus::Queued,
            failure: None,
            labels: input.labels,
            layers: input.layers.unwrap_or_else(|| app.layers.clone()),
            env_vars,
            entrypoint: required_entrypoint(config.as_ref()),
            config,
            created_at: now,
            updated_at: now,
            production: input.production,
            preview: input.preview,
            asset_keys: input.asset_keys,
            progress: vec![progress],
        };
        let seq = store.next_seq();
        let revision = RevisionRecord { seq, ..revision };
        store.revisions.push(revision.clone());
        revision
    };
    shared.notify();
    tokio::spawn(build(shared.clone(), revision.id.clone()));
    Ok(json_response(StatusCode::ACCEPTED, &revision.to_json()))
}

/// `GET /v2/apps/{app}/revisions`: newest first, filtered by `status`, paginated by cursor.
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    let store = shared.store();
    let app_id = store
        .app_index(&app)
        .map(|i| store.apps[i].id)
        .ok_or_else(|| ApiError::app_not_found(&app))?;
    let query = QueryParams::parse(raw.as_deref());
    let limit = query.limit(30, 100)?;
    let status = query.one_of("status", &RevisionStatus::NAMES)?;
    let before = query
        .get("cursor")
        .map(|c| decode_cursor(CursorKind::Revisions, c))
        .transpose()?;
    let mut matching = store
        .revisions
        .iter()
        .rev()
        .filter(|r| r.app_id == app_id)
        .filter(|r| before.is_none_or(|b| r.seq < b))
        .filter(|r| status.as_deref().is_none_or(|s| r.status.as_str() == s));
    let page: Vec<&RevisionRecord> = matching.by_ref().take(limit).collect();
    let more = matching.next().is_some();
    let body: Vec<Value> = page.iter().map(|r| r.to_list_item()).collect();
    let mut response = json_response(StatusCode::OK, &body);
    if let (true, Some(last)) = (more, page.last()) {
        let mut params = vec![("limit", limit.to_string())];
        if let Some(status) = status {
            params.push(("status", status));
        }
        params.push(("cursor", encode_cursor(CursorKind::Revisions, last.seq)));
        let link = next_link(&shared.settings, &headers, uri.path(), &params);
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

/// `GET /v2/revisions/{revision}`.
pub(crate) async fn get(
    State(shared): State<Arc<Shared>>,
    Path(revision): Path<String>,
) -> ApiResult {
    let store = shared.store();
    let index = store
        .revision_index(&revision)
        .ok_or_else(|| ApiError::revision_not_found(&revision))?;
    Ok(json_response(
        StatusCode::OK,
        &store.revisions[index].to_json(),
    ))
}

/// `DELETE /v2/revisions/{revision}`: refused (409) while it serves production or preview.
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(revision): Path<String>,
) -> ApiResult {
    {
        let mut store = shared.store();
        let index = store
            .revision_index(&revision)
            .ok_or_else(|| ApiError::revision_not_found(&revision))?;
        let app_id = store.revisions[index].app_id;
        if let Some(app) = store.app_by_id(app_id) {
            let slot = if app.production.as_deref() == Some(revision.as_str()) {
                Some("production")
            } else if app.preview.as_deref() == Some(revision.as_str()) {
                Some("preview")
            } else {
                None
            };
            if let Some(slot) = slot {
                // The spec lists no 409 here; a conflict with the app's state is what it is.
                return Err(ApiError::conflict(
                    "revision_serving",
                    format!(
                        "revision `{revision}` serves {slot} traffic for app `{}` and cannot be deleted; deploy another revision first",
                        app.slug
                    ),
                ));
            }
        }
        store.revisions.remove(index);
    }
    shared.notify();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v2/revisions/{revision}/cancel`: a queued or building revision fails as cancelled.
pub(crate) async fn cancel(
    State(shared): State<Arc<Shared>>,
    Path(revision): Path<String>,
) -> ApiResult {
    let body = {
        let mut store = shared.store();
        let index = store
            .revision_index(&revision)
            .ok_or_else(|| ApiError::revision_not_found(&revision))?;
        let record = &mut store.revisions[index];
        if record.status.is_finished() {
            // The spec lists only 200, 401 and 404 for cancel; a finished build is a 409.
            return Err(ApiError::conflict(
                "revision_not_cancellable",
                format!(
                    "revision `{revision}` has status {}; only queued or building revisions can be cancelled",
                    record.status.as_str()
                ),
            ));
        }
        let now = now_after(record.updated_at);
        let mut progress = record.current_progress();
        for stage in progress.stages_mut() {
            match stage.status {
                StageState::Running => {
                    stage.status = StageState::Failed;
                    stage.finished_at = Some(now);
                }
                StageState::Pending => stage.status = StageState::Skipped,
                _ => {}
            }
        }
        progress.deploying.status = StageState::Skipped;
        record.progress.push(progress);
        record.status = RevisionStatus::Failed;
        record.failure = Some(Failure {
            reason: "the revision build was cancelled on request".into(),
            code: "revision_cancelled",
        });
        record.updated_at = now;
        record.to_json()
    };
    shared.notify();
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /v2/revisions/{revision}/progress`: SSE or NDJSON per `Accept`; one message per
/// change from the current state on, then `done` or `error` (SSE) when the build ends.
pub(crate) async fn progress(
    State(shared): State<Arc<Shared>>,
    Path(revision): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    if shared.store().revision_index(&revision).is_none() {
        return Err(ApiError::revision_not_found(&revision));
    }
    let format = stream::negotiate(&headers, stream::STREAMS)?;
    let (tx, response) = stream::channel(format);
    tokio::spawn(follow_progress(shared, revision, format, tx));
    Ok(response)
}

/// The entrypoint a build needs among its assets: the dynamic runtime's (default `main.ts`),
/// `main.ts` when there is no config or a config with neither runtime nor framework, and
/// none for a static runtime, a framework preset or a specifier such as `jsr:...`.
fn required_entrypoint(config: Option<&Value>) -> Option<String> {
    let entrypoint = match config {
        None => "main.ts",
        Some(config) => match config.get("runtime") {
            Some(runtime) if runtime["type"] == "dynamic" => runtime
                .get("entrypoint")
                .and_then(Value::as_str)
                .unwrap_or("main.ts"),
            Some(_) => return None,
            None if config.get("framework").is_some() => return None,
            None => "main.ts",
        },
    };
    if entrypoint.contains(':') {
        return None;
    }
    let relative = entrypoint
        .strip_prefix("/app/src/")
        .unwrap_or(entrypoint)
        .trim_start_matches("./");
    Some(relative.to_owned())
}

/// Moves a revision through its stages, one per build delay, until it ends, is cancelled or
/// is deleted.
async fn build(shared: Arc<Shared>, id: String) {
    for step in 1..=5 {
        tokio::time::sleep(shared.settings.build_delay).await;
        let finished = {
            let mut store = shared.store();
            let Some(index) = store.revision_index(&id) else {
                return;
            };
            if store.revisions[index].status.is_finished() {
                return;
            }
            advance(&mut store, index, step)
        };
        shared.notify();
        if finished {
            return;
        }
    }
}

/// Takes one build step; true when the revision has finished.
fn advance(store: &mut Store, index: usize, step: u8) -> bool {
    let record = &mut store.revisions[index];
    let now = now_after(record.updated_at);
    let mut progress = record.current_progress();
    record.updated_at = now;
    let stage = usize::from(step - 1);
    if step <= 3 {
        let stages = progress.stages_mut();
        stages[stage].status = StageState::Succeeded;
        stages[stage].finished_at = Some(now);
        stages[stage + 1].status = StageState::Running;
        stages[stage + 1].started_at = Some(now);
        record.status = RevisionStatus::Building;
        record.progress.push(progress);
        return false;
    }
    if step == 4 {
        let missing = record
            .entrypoint
            .as_ref()
            .filter(|e| !record.asset_keys.contains(e))
            .cloned();
        progress.building.finished_at = Some(now);
        if let Some(entrypoint) = missing {
            progress.building.status = StageState::Failed;
            progress.deploying.status = StageState::Skipped;
            record.status = RevisionStatus::Failed;
            record.failure = Some(Failure {
                reason: format!("the entrypoint `{entrypoint}` is not among the deployed assets"),
                code: "entrypoint_not_found",
            });
            record.progress.push(progress);
            return true;
        }
        progress.building.status = StageState::Succeeded;
        progress.deploying.status = StageState::Running;
        for timeline in &mut progress.deploying.timelines {
            timeline.status = StageState::Running;
            timeline.started_at = Some(now);
        }
        record.progress.push(progress);
        return false;
    }
    progress.deploying.status = StageState::Succeeded;
    for timeline in &mut progress.deploying.timelines {
        timeline.status = StageState::Succeeded;
        timeline.finished_at = Some(now);
    }
    record.status = RevisionStatus::Succeeded;
    record.progress.push(progress);
    let (id, app_id, production, preview) = (
        record.id.clone(),
        record.app_id,
        record.production,
        record.preview,
    );
    if let Some(app) = store.apps.iter_mut().find(|a| a.id == app_id) {
        if production {
            app.production = Some(id.clone());
        }
        if preview {
            app.preview = Some(id.clone());
        }
    }
    for region in REGIONS {
        store.push_log(
            app_id,
            LogLevel::Info,
            format!("Listening on http://0.0.0.0:8000/ (revision {id}, region {region})"),
            Some(region.to_owned()),
            Some(id.clone()),
        );
    }
    true
}

/// Feeds a progress stream: the current state, every later one, then the end event.
async fn follow_progress(shared: Arc<Shared>, id: String, format: Format, tx: mpsc::Sender<Bytes>) {
    let mut changes = shared.subscribe();
    let period = shared.settings.keepalive;
    let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut next: Option<usize> = None;
    loop {
        changes.borrow_and_update();
        let (frames, end) = {
            let store = shared.store();
            match store.revision_index(&id) {
                None => (
                    Vec::new(),
                    Some(end_event(format, None, &id, RevisionStatus::Failed)),
                ),
                Some(index) => {
                    let record = &store.revisions[index];
                    let from = next.unwrap_or(record.progress.len().saturating_sub(1));
                    let frames: Vec<Bytes> = record.progress[from..]
                        .iter()
                        .map(|p| stream::message(format, None, &json!(p)))
                        .collect();
                    next = Some(record.progress.len());
                    let end = record
                        .status
                        .is_finished()
                        .then(|| end_event(format, record.failure.as_ref(), &id, record.status));
                    (frames, end)
                }
            }
        };
        for frame in frames {
            if tx.send(frame).await.is_err() {
                return;
            }
        }
        if let Some(end) = end {
            if let Some(frame) = end {
                let _ = tx.send(frame).await;
            }
            return;
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = keepalive.tick() => {
                if tx.send(stream::keepalive(format)).await.is_err() {
                    return;
                }
            }
            _ = tx.closed() => return,
        }
    }
}

/// The closing SSE event (`done`, or `error` with an Error body); NDJSON has none.
fn end_event(
    format: Format,
    failure: Option<&Failure>,
    id: &str,
    status: RevisionStatus,
) -> Option<Bytes> {
    if format != Format::Sse {
        return None;
    }
    let frame = match (status, failure) {
        (RevisionStatus::Succeeded, _) => stream::named_event("done", None, &json!({})),
        (_, Some(failure)) => stream::named_event(
            "error",
            None,
            &json!({"error": failure.reason, "code": failure.code}),
        ),
        (_, None) => stream::named_event(
            "error",
            None,
            &json!({"error": format!("revision `{id}` was deleted"), "code": "revision_not_found"}),
        ),
    };
    Some(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entrypoint_comes_from_a_dynamic_runtime_or_defaults_to_main_ts() {
        assert_eq!(required_entrypoint(None).as_deref(), Some("main.ts"));
        let dynamic = json!({"runtime": {"type": "dynamic", "entrypoint": "./src/app.ts"}});
        assert_eq!(
            required_entrypoint(Some(&dynamic)).as_deref(),
            Some("src/app.ts")
        );
        let absolute = json!({"runtime": {"type": "dynamic", "entrypoint": "/app/src/x.ts"}});
        assert_eq!(
            required_entrypoint(Some(&absolute)).as_deref(),
            Some("x.ts")
        );
        let bare = json!({"runtime": {"type": "dynamic"}});
        assert_eq!(required_entrypoint(Some(&bare)).as_deref(), Some("main.ts"));
        let statik = json!({"runtime": {"type": "static"}});
        assert_eq!(required_entrypoint(Some(&statik)), None);
        let framework = json!({"framework": "fresh"});
        assert_eq!(required_entrypoint(Some(&framework)), None);
        let specifier = json!({"runtime": {"type": "dynamic", "entrypoint": "jsr:@std/http"}});
        assert_eq!(required_entrypoint(Some(&specifier)), None);
    }
}
