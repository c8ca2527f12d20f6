//! The in-memory state of one emulator: apps, revisions and runtime logs.
//!
//! Everything lives behind one mutex in [`Shared`]; every mutation that a stream may be
//! waiting for bumps the `changes` watch channel, so followers re-read the store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;
use uuid::Uuid;

use crate::fault::FaultRule;
use crate::logs::LogLevel;
use crate::operation::Operation;

/// The regions every revision is deployed to, in order.
pub const REGIONS: [&str; 3] = ["us-east", "europe-west", "asia-northeast"];

/// Settings that do not change while the emulator runs.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub token: Option<String>,
    pub build_delay: Duration,
    pub keepalive: Duration,
    /// The base URL clients reach the API at, for absolute `Link`s; `None` takes the request's
    /// `Host`.
    pub public_url: Option<String>,
    /// `http://ADDR`, for a request without a usable `Host`.
    pub origin: String,
}

/// State shared by the server, the build pipeline and the [`crate::Emulator`] handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub settings: Settings,
    store: Mutex<Store>,
    changes: watch::Sender<u64>,
    requests: AtomicU64,
    connections: AtomicU64,
    per_operation: [AtomicU64; Operation::ALL.len()],
    pub faults: Mutex<Vec<FaultRule>>,
}

impl Shared {
    pub fn new(settings: Settings, faults: Vec<FaultRule>) -> Self {
        Shared {
            settings,
            store: Mutex::new(Store::default()),
            changes: watch::channel(0).0,
            requests: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            per_operation: std::array::from_fn(|_| AtomicU64::new(0)),
            faults: Mutex::new(faults),
        }
    }

    /// Locks the store; a poisoned lock is recovered since every mutation is completed
    /// before anything that could panic.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells every follower (progress and log streams) that the store changed.
    pub fn notify(&self) {
        self.changes.send_modify(|v| *v += 1);
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub fn count_request(&self, operation: Option<Operation>) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if let Some(op) = operation {
            self.per_operation[op.index()].fetch_add(1, Ordering::SeqCst);
        }
    }

    pub fn count_connection(&self) {
        self.connections.fetch_add(1, Ordering::SeqCst);
    }

    pub fn connection_count(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    pub fn operation_count(&self, operation: Operation) -> u64 {
        self.per_operation[operation.index()].load(Ordering::SeqCst)
    }
}

/// All resources of one emulator.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub apps: Vec<AppRecord>,
    pub revisions: Vec<RevisionRecord>,
    pub logs: Vec<LogRecord>,
    seq: u64,
    last_log_at: Option<DateTime<Utc>>,
}

impl Store {
    /// The next value of the store-wide sequence that orders every resource.
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Finds an app by UUID first, then by slug.
    pub fn app_index(&self, key: &str) -> Option<usize> {
        if let Ok(id) = Uuid::parse_str(key) {
            if let Some(i) = self.apps.iter().position(|a| a.id == id) {
                return Some(i);
            }
        }
        self.apps.iter().position(|a| a.slug == key)
    }

    pub fn app_by_id(&self, id: Uuid) -> Option<&AppRecord> {
        self.apps.iter().find(|a| a.id == id)
    }

    pub fn revision_index(&self, id: &str) -> Option<usize> {
        self.revisions.iter().position(|r| r.id == id)
    }

    /// Appends a runtime log entry; timestamps strictly increase, so the order of entries is
    /// both their sequence and their time.
    pub fn push_log(
        &mut self,
        app_id: Uuid,
        level: LogLevel,
        message: String,
        region: Option<String>,
        revision_id: Option<String>,
    ) {
        let at = match self.last_log_at {
            Some(last) => now_after(last),
            None => Utc::now(),
        };
        self.last_log_at = Some(at);
        let seq = self.next_seq();
        self.logs.push(LogRecord {
            seq,
            app_id,
            level,
            message,
            region,
            revision_id,
            timestamp: at,
        });
    }

    /// The revision that serves production traffic for an app, else its newest succeeded one.
    pub fn running_revision(&self, app: &AppRecord) -> Option<String> {
        app.production.clone().or_else(|| {
            self.revisions
                .iter()
                .rev()
                .find(|r| r.app_id == app.id && r.status == RevisionStatus::Succeeded)
                .map(|r| r.id.clone())
        })
    }
}

/// One app.
#[derive(Debug, Clone)]
pub(crate) struct AppRecord {
    pub seq: u64,
    pub id: Uuid,
    pub slug: String,
    pub labels: BTreeMap<String, String>,
    pub layers: Vec<String>,
    pub env_vars: Vec<EnvVarRecord>,
    pub config: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The revision serving production traffic.
    pub production: Option<String>,
    /// The revision serving preview traffic.
    pub preview: Option<String>,
}

impl AppRecord {
    pub fn to_json(&self) -> Value {
        let mut out = serde_json::json!({
            "id": self.id.to_string(),
            "slug": self.slug,
            "labels": self.labels,
            "layers": self.layers.iter().map(|l| layer_ref(l)).collect::<Vec<_>>(),
            "env_vars": self.env_vars.iter().map(EnvVarRecord::to_json).collect::<Vec<_>>(),
            "created_at": timestamp(self.created_at),
            "updated_at": timestamp(self.updated_at),
        });
        if let Some(config) = &self.config {
            out["config"] = config.clone();
        }
        out
    }

    pub fn to_list_item(&self) -> Value {
        serde_json::json!({
            "id": self.id.to_string(),
            "slug": self.slug,
            "labels": self.labels,
            "created_at": timestamp(self.created_at),
            "updated_at": timestamp(self.updated_at),
        })
    }
}

/// One environment variable of an app or revision.
#[derive(Debug, Clone)]
pub(crate) struct EnvVarRecord {
    pub id: String,
    pub key: String,
    pub value: String,
    pub secret: bool,
    pub contexts: Value,
}

impl EnvVarRecord {
    pub fn new(key: String, value: String, secret: bool, contexts: Option<Value>) -> Self {
        EnvVarRecord {
            id: format!("env_{}", random_token(16)),
            key,
            value,
            secret,
            contexts: contexts.unwrap_or_else(|| Value::from("all")),
        }
    }

    /// The output form: a secret variable never shows its value.
    pub fn to_json(&self) -> Value {
        let mut out = serde_json::json!({
            "id": self.id,
            "key": self.key,
            "secret": self.secret,
            "contexts": self.contexts,
        });
        if !self.secret {
            out["value"] = Value::from(self.value.as_str());
        }
        out
    }
}

/// The build status of a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RevisionStatus {
    Queued,
    Building,
    Succeeded,
    Failed,
}

impl RevisionStatus {
    pub const NAMES: [&'static str; 5] = ["skipped", "queued", "building", "succeeded", "failed"];

    pub fn as_str(self) -> &'static str {
        match self {
            RevisionStatus::Queued => "queued",
            RevisionStatus::Building => "building",
            RevisionStatus::Succeeded => "succeeded",
            RevisionStatus::Failed => "failed",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, RevisionStatus::Succeeded | RevisionStatus::Failed)
    }
}

/// Why a revision failed, as told to people and to programs.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub reason: String,
    pub code: &'static str,
}

/// One revision.
#[derive(Debug, Clone)]
pub(crate) struct RevisionRecord {
    pub seq: u64,
    pub id: String,
    pub app_id: Uuid,
    pub status: RevisionStatus,
    pub failure: Option<Failure>,
    pub labels: BTreeMap<String, String>,
    pub layers: Vec<String>,
    pub env_vars: Vec<EnvVarRecord>,
    pub config: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub production: bool,
    pub preview: bool,
    /// The entrypoint that must be among the assets, when the runtime needs one.
    pub entrypoint: Option<String>,
    pub asset_keys: Vec<String>,
    /// Every progress state so far, oldest first; streams replay from it.
    pub progress: Vec<Progress>,
}

impl RevisionRecord {
    pub fn to_json(&self) -> Value {
        let mut out = serde_json::json!({
            "id": self.id,
            "status": self.status.as_str(),
            "labels": self.labels,
            "layers": self.layers.iter().map(|l| layer_ref(l)).collect::<Vec<_>>(),
            "env_vars": self.env_vars.iter().map(EnvVarRecord::to_json).collect::<Vec<_>>(),
            "created_at": timestamp(self.created_at),
            "updated_at": timestamp(self.updated_at),
        });
        if let Some(failure) = &self.failure {
            out["failure_reason"] = Value::from(failure.reason.as_str());
        }
        if let Some(config) = &self.config {
            out["config"] = config.clone();
        }
        out
    }

    pub fn to_list_item(&self) -> Value {
        let mut out = serde_json::json!({
            "id": self.id,
            "status": self.status.as_str(),
            "created_at": timestamp(self.created_at),
            "updated_at": timestamp(self.updated_at),
        });
        if let Some(failure) = &self.failure {
            out["failure_reason"] = Value::from(failure.reason.as_str());
        }
        out
    }

    pub fn current_progress(&self) -> Progress {
        self.progress.last().cloned().unwrap_or_default()
    }
}

/// The status of one build stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum StageState {
    #[default]
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
}

/// A build stage: the spec's `StageStatus`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Stage {
    pub status: StageState,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_timestamp"
    )]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_timestamp"
    )]
    pub finished_at: Option<DateTime<Utc>>,
}

/// Progress in one region: the spec's `DeploymentTimeline`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Timeline {
    pub region: String,
    pub status: StageState,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_timestamp"
    )]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_timestamp"
    )]
    pub finished_at: Option<DateTime<Utc>>,
}

/// The deploying stage: the spec's `DeployingStageStatus`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Deploying {
    pub status: StageState,
    pub timelines: Vec<Timeline>,
}

impl Default for Deploying {
    fn default() -> Self {
        Deploying {
            status: StageState::Pending,
            timelines: REGIONS
                .iter()
                .map(|r| Timeline {
                    region: (*r).to_owned(),
                    status: StageState::Pending,
                    started_at: None,
                    finished_at: None,
                })
                .collect(),
        }
    }
}

/// The spec's `RevisionProgress`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Progress {
    pub queued: Stage,
    pub preparing: Stage,
    pub installing: Stage,
    pub building: Stage,
    pub deploying: Deploying,
}

impl Progress {
    /// The four plain stages in build order; `deploying` comes after them.
    pub fn stages_mut(&mut self) -> [&mut Stage; 4] {
        [
            &mut self.queued,
            &mut self.preparing,
            &mut self.installing,
            &mut self.building,
        ]
    }
}

/// One runtime log entry of an app.
#[derive(Debug, Clone)]
pub(crate) struct LogRecord {
    pub seq: u64,
    pub app_id: Uuid,
    pub level: LogLevel,
    pub message: String,
    pub region: Option<String>,
    pub revision_id: Option<String>,
    pub timestamp: DateTime<Utc>,
}

impl LogRecord {
    pub fn to_json(&self) -> Value {
        let mut out = serde_json::json!({
            "level": self.level.as_str(),
            "message": self.message,
            "timestamp": timestamp(self.timestamp),
        });
        if let Some(region) = &self.region {
            out["region"] = Value::from(region.as_str());
        }
        if let Some(revision_id) = &self.revision_id {
            out["revision_id"] = Value::from(revision_id.as_str());
        }
        out
    }
}

/// The current time, strictly after `previous` at the microsecond precision of the output,
/// since a clock can repeat a reading or step back.
pub(crate) fn now_after(previous: DateTime<Utc>) -> DateTime<Utc> {
    let now = Utc::now();
    let floor = previous + chrono::Duration::microseconds(1);
    if now < floor {
        floor
    } else {
        now
    }
}

/// RFC 3339 with microseconds, in UTC.
pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `count` random lowercase hexadecimal characters.
pub(crate) fn random_token(count: usize) -> String {
    let mut out = String::with_capacity(count);
    while out.len() < count {
        out.push_str(&Uuid::new_v4().simple().to_string());
    }
    out.truncate(count);
    out
}

/// A LayerRef as output: the reference as given, with a slug when it is not a UUID.
// Not yet: layers as resources of their own; until then a LayerRef echoes the reference given.
fn layer_ref(reference: &str) -> Value {
    if Uuid::parse_str(reference).is_ok() {
        serde_json::json!({ "id": reference })
    } else {
        serde_json::json!({ "id": reference, "slug": reference })
    }
}

fn opt_timestamp<S: serde::Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.serialize_str(&timestamp(*at)),
        None => serializer.serialize_none(),
    }
}
