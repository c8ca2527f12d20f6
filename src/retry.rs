//! Retries of transient failures, applied to every request in the client's `exec` hook.
//!
//! Idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) are retried on connection errors and
//! on 408, 429 and 5xx, with exponential backoff and full jitter, honouring `Retry-After`.
//! Other requests are retried only when they cannot have reached the server (the connection
//! was never made), unless the caller opts in for one call with [`retry_non_idempotent`].

use std::{future::Future, time::Duration};

use reqwest::{header::RETRY_AFTER, Method, ResponseBuilderExt as _, StatusCode};

/// Retries after the first attempt, by default.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// The first backoff step; each retry doubles it.
pub const DEFAULT_RETRY_BASE_DELAY: Duration = Duration::from_millis(250);
/// No single wait is longer than this; a `Retry-After` above it is not waited for.
pub const DEFAULT_MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// How the client retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 switches retries off).
    pub max_retries: u32,
    /// The first backoff step.
    pub base_delay: Duration,
    /// The longest single wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: DEFAULT_MAX_RETRIES,
            base_delay: DEFAULT_RETRY_BASE_DELAY,
            max_delay: DEFAULT_MAX_RETRY_DELAY,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The backoff before retry number `attempt` (0-based): full jitter over an exponential
    /// step, so many clients do not retry in lockstep.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let step = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.max_delay);
        // Half fixed, half random: never zero, never above the step.
        let half = step / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

tokio::task_local! {
    static NON_IDEMPOTENT_RETRIES: bool;
}

/// Runs `call` with retries allowed for its non-idempotent requests too (a create, deploy,
/// update or cancel that the caller knows is safe to repeat).
///
/// ```no_run
/// # async fn example(client: deno_deploy::Client) -> Result<(), deno_deploy::Error> {
/// let call = client.cancel_revision().revision("rev_1").send();
/// let revision = deno_deploy::retry_non_idempotent(call).await?;
/// # let _ = revision;
/// # Ok(())
/// # }
/// ```
pub async fn retry_non_idempotent<F: Future>(call: F) -> F::Output {
    NON_IDEMPOTENT_RETRIES.scope(true, call).await
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}

/// What to do after one attempt.
enum Verdict {
    Done,
    Retry {
        after: Option<Duration>,
        cause: String,
    },
}

fn judge(
    result: &reqwest::Result<reqwest::Response>,
    idempotent: bool,
    policy: &RetryPolicy,
) -> Verdict {
    match result {
        Err(e) if e.is_connect() => Verdict::Retry {
            after: None,
            cause: format!("connection failed: {e}"),
        },
        // Anything else may have reached the server: only a repeatable request goes again.
        // Nothing is decoded here, so a decode error is a body that broke while being read.
        Err(e)
            if idempotent && (e.is_timeout() || e.is_request() || e.is_body() || e.is_decode()) =>
        {
            Verdict::Retry {
                after: None,
                cause: format!("request failed: {e}"),
            }
        }
        Ok(response) if idempotent && is_transient(response.status()) => {
            let after = retry_after(response.headers());
            match after {
                // A server that asks for a longer wait than we allow gets its answer back.
                Some(wait) if wait > policy.max_delay => Verdict::Done,
                _ => Verdict::Retry {
                    after,
                    cause: format!("status {}", response.status().as_u16()),
                },
            }
        }
        _ => Verdict::Done,
    }
}

fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// `Retry-After` as delay-seconds or an HTTP-date; `None` when absent or unreadable.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Sends `request` with `client`, retrying as `policy` allows.
///
/// A unary request (not a stream) passes `turns`: each attempt waits for a permit and holds it
/// until its answer is read to its end, here, so a connection that breaks in the middle of the
/// body fails this attempt, and an idempotent request is sent again.
pub(crate) async fn execute(
    client: &reqwest::Client,
    request: reqwest::Request,
    policy: &RetryPolicy,
    operation: &str,
    turns: Option<&tokio::sync::Semaphore>,
) -> reqwest::Result<reqwest::Response> {
    let opted_in = NON_IDEMPOTENT_RETRIES.try_with(|on| *on).unwrap_or(false);
    let idempotent = is_idempotent(request.method()) || opted_in;
    let is_delete = request.method() == Method::DELETE;
    let mut attempt = 0;
    let mut request = request;
    loop {
        // A streamed body cannot be replayed: such a request gets exactly one attempt.
        let spare = match attempt < policy.max_retries {
            true => request.try_clone(),
            false => None,
        };
        let result = match turns {
            Some(turns) => {
                // The semaphore is never closed, so a permit always comes.
                let _turn = turns.acquire().await;
                match client.execute(request).await {
                    Ok(response) => buffered(response).await,
                    Err(e) => Err(e),
                }
            }
            None => client.execute(request).await,
        };
        if attempt > 0 && is_delete {
            if let Ok(response) = &result {
                if response.status() == StatusCode::NOT_FOUND {
                    // The earlier attempt did delete it: that is the success the caller wanted.
                    return Ok(deleted(response));
                }
            }
        }
        let Some(next) = spare else {
            return result;
        };
        let (after, cause) = match judge(&result, idempotent, policy) {
            Verdict::Done => return result,
            Verdict::Retry { after, cause } => (after, cause),
        };
        let wait = after.unwrap_or_else(|| policy.backoff(attempt));
        tracing::warn!(
            operation,
            attempt = attempt + 1,
            wait_ms = wait.as_millis() as u64,
            cause = %cause,
            "retrying request"
        );
        // Let the connection go back to the pool before sleeping.
        drop(result);
        tokio::time::sleep(wait).await;
        attempt += 1;
        request = next;
    }
}

/// A `204 No Content` standing in for the 404 of a retried DELETE.
fn deleted(not_found: &reqwest::Response) -> reqwest::Response {
    let mut response = http::Response::builder()
        .url(not_found.url().clone())
        .body(Vec::<u8>::new())
        .unwrap_or_default();
    *response.status_mut() = StatusCode::NO_CONTENT;
    if let Some(id) = not_found.headers().get("x-request-id") {
        response.headers_mut().insert("x-request-id", id.clone());
    }
    reqwest::Response::from(response)
}

/// The same response with its whole body already read; a body that breaks is an error here.
async fn buffered(mut response: reqwest::Response) -> reqwest::Result<reqwest::Response> {
    let status = response.status();
    let version = response.version();
    let url = response.url().clone();
    // Moved, not copied: reading the body needs no headers.
    let headers = std::mem::take(response.headers_mut());
    let body = response.bytes().await?;
    let mut rebuilt = http::Response::builder()
        .url(url)
        .body(body)
        .unwrap_or_default();
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    Ok(reqwest::Response::from(rebuilt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(retry_after(&headers("7")), Some(Duration::from_secs(7)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        let date = httpdate::fmt_http_date(later);
        let wait = retry_after(&headers(&date)).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert_eq!(
            retry_after(&headers("Sun, 06 Nov 1994 08:49:37 GMT")),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(retry_after(&headers("soon")), None);
        assert_eq!(retry_after(&headers("-3")), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stays_under_the_cap() {
        let policy = RetryPolicy::default();
        for attempt in 0..20 {
            let step = (DEFAULT_RETRY_BASE_DELAY * 2u32.saturating_pow(attempt))
                .min(DEFAULT_MAX_RETRY_DELAY);
            let wait = policy.backoff(attempt);
            assert!(
                wait >= step / 2 && wait <= step,
                "attempt {attempt}: {wait:?}"
            );
        }
    }

    #[test]
    fn only_repeatable_methods_are_idempotent() {
        for method in [Method::GET, Method::DELETE, Method::PUT, Method::HEAD] {
            assert!(is_idempotent(&method), "{method}");
        }
        for method in [Method::POST, Method::PATCH] {
            assert!(!is_idempotent(&method), "{method}");
        }
    }
}
