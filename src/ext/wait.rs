//! Waiting for a revision's build to end, with stage-by-stage progress for a caller to draw.
//!
//! It follows the progress stream and falls back to polling getRevision when the stream breaks
//! or goes silent; either way the final state is confirmed with a GET before it is returned.

use std::time::{Duration, Instant};

use futures::StreamExt;

use super::streams::{stage_statuses, Stage, StreamFormat};
use crate::{types, Client, Error};

/// Overall time a wait may take by default.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Time between two getRevision polls once the stream has been given up.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Time the progress stream may stay silent before the wait switches to polling.
pub const DEFAULT_SILENCE_TIMEOUT: Duration = Duration::from_secs(30);

/// Something that happened while waiting, for progress bars and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitEvent {
    /// A build stage changed status (`running`, `succeeded`, `failed`, ...).
    Stage {
        /// The stage.
        stage: Stage,
        /// Its new status, as the API spells it.
        status: String,
    },
    /// The revision's own status changed (seen while polling).
    Status(String),
    /// The progress stream broke or went silent; the wait now polls getRevision.
    Polling {
        /// Why the stream was given up.
        reason: String,
    },
}

/// The caller's progress callback.
type EventCallback<'a> = Box<dyn FnMut(&WaitEvent) + Send + 'a>;

/// A wait for a revision; see [`Client::wait_for_revision`].
#[must_use = "call .send() to wait"]
pub struct WaitForRevision<'a> {
    client: &'a Client,
    revision: String,
    timeout: Duration,
    poll_interval: Duration,
    silence_timeout: Duration,
    format: StreamFormat,
    on_event: Option<EventCallback<'a>>,
}

impl Client {
    /// Waits until `revision` has finished building (see [`WaitForRevision::send`]).
    pub fn wait_for_revision(&self, revision: impl Into<String>) -> WaitForRevision<'_> {
        WaitForRevision {
            client: self,
            revision: revision.into(),
            timeout: DEFAULT_WAIT_TIMEOUT,
            poll_interval: DEFAULT_POLL_INTERVAL,
            silence_timeout: DEFAULT_SILENCE_TIMEOUT,
            format: StreamFormat::Sse,
            on_event: None,
        }
    }
}

impl<'a> WaitForRevision<'a> {
    /// Gives up after this long in all.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time between polls, once polling.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Time the progress stream may stay silent before the wait polls instead.
    pub fn silence_timeout(mut self, timeout: Duration) -> Self {
        self.silence_timeout = timeout;
        self
    }

    /// The progress stream's wire format (SSE by default).
    pub fn format(mut self, format: StreamFormat) -> Self {
        self.format = format;
        self
    }

    /// Calls `on_event` for each stage change and each switch to polling.
    pub fn on_event(mut self, on_event: impl FnMut(&WaitEvent) + Send + 'a) -> Self {
        self.on_event = Some(Box::new(on_event));
        self
    }

    /// Waits for the build to end and returns the final revision, as getRevision reports it.
    ///
    /// # Errors
    /// [`Error::RevisionFailed`] with the server's `failure_reason` when the build failed or
    /// was skipped; [`Error::Timeout`] when the overall timeout runs out; the API's error when
    /// getRevision itself fails (an unknown revision is a 404); [`Error::InvalidInput`] for
    /// an empty revision id, before anything is sent.
    pub async fn send(mut self) -> Result<types::Revision, Error> {
        crate::validate::path_param("revision", &self.revision)?;
        let deadline = Instant::now() + self.timeout;
        let what = format!("waiting for revision {}", self.revision);
        let seconds = self.timeout.as_secs_f64();
        match tokio::time::timeout_at(deadline.into(), self.follow_then_poll()).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout { what, seconds }),
        }
    }

    async fn follow_then_poll(&mut self) -> Result<types::Revision, Error> {
        let fallback_reason = match self.follow_stream().await {
            Ok(()) => None,
            // The build failed: the GET below confirms and carries the server's reason.
            Err(Error::RevisionFailed { .. }) => None,
            Err(Error::Api(api)) if api.status.as_u16() == 404 => return Err(Error::Api(api)),
            Err(other) => Some(other.to_string()),
        };
        if let Some(reason) = fallback_reason {
            tracing::debug!(revision = %self.revision, %reason, "progress stream given up; polling");
            self.emit(WaitEvent::Polling { reason });
        }
        self.poll().await
    }

    /// Follows the progress stream until its end, reporting stage changes.
    async fn follow_stream(&mut self) -> Result<(), Error> {
        let mut stream = self
            .client
            .revision_progress(self.revision.clone())
            .format(self.format)
            .stream();
        let mut last: [Option<String>; 5] = Default::default();
        loop {
            let next = tokio::time::timeout(self.silence_timeout, stream.next()).await;
            let item = match next {
                Err(_) => {
                    return Err(Error::Stream(format!(
                        "no progress for {:.1} s",
                        self.silence_timeout.as_secs_f64()
                    )))
                }
                Ok(None) => return Ok(()),
                Ok(Some(item)) => item?,
            };
            for (i, (stage, status)) in stage_statuses(&item).into_iter().enumerate() {
                if let Some(status) = status {
                    if last[i].as_deref() != Some(status.as_str()) {
                        last[i] = Some(status.clone());
                        self.emit(WaitEvent::Stage { stage, status });
                    }
                }
            }
        }
    }

    /// Polls getRevision until the status is final.
    async fn poll(&mut self) -> Result<types::Revision, Error> {
        let mut last_status = String::new();
        loop {
            let revision = self
                .client
                .get_revision()
                .revision(self.revision.clone())
                .send()
                .await
                .map_err(Error::from)?
                .into_inner();
            let status = revision.status.to_string();
            if status != last_status {
                last_status = status.clone();
                self.emit(WaitEvent::Status(status.clone()));
            }
            match status.as_str() {
                "succeeded" => return Ok(revision),
                "failed" | "skipped" => {
                    let reason = revision
                        .failure_reason
                        .clone()
                        .unwrap_or_else(|| format!("the revision was {status}"));
                    return Err(Error::RevisionFailed {
                        revision_id: revision.id.clone(),
                        status,
                        reason,
                        revision: Box::new(Some(revision)),
                    });
                }
                // Not yet: a status the spec does not list counts as not final; until then the wait
                // polls until its timeout.
                _ => tokio::time::sleep(self.poll_interval).await,
            }
        }
    }

    fn emit(&mut self, event: WaitEvent) {
        if let Some(on_event) = self.on_event.as_mut() {
            on_event(&event);
        }
    }
}
