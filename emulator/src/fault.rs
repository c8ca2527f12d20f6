//! Fault injection: the next requests of an operation misbehave on purpose.
//!
//! A [`FaultRule`] pairs a target (one operation, or any request) with a [`Fault`] and a number
//! of uses; the first matching rule with uses left applies to a request and loses one use.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;

use crate::error::ApiError;
use crate::operation::Operation;
use crate::store::Shared;

/// The statuses a status fault may answer: the error statuses.
const STATUSES: std::ops::RangeInclusive<u16> = 400..=599;

/// What a faulty request does instead of (or on top of) its normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    kind: FaultKind,
    /// How many requests it applies to; `None` is every request.
    times: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum FaultKind {
    Status {
        status: u16,
        retry_after: Option<u64>,
        /// Run the operation first, then answer the status in place of its answer.
        after_operation: bool,
    },
    Latency(Duration),
    ResetMidBody,
    DropStreamAfter(usize),
    Stall,
    MalformedJson,
}

impl Fault {
    /// Answer with this status and an `Error` body instead of running the operation. The
    /// status must be an error status, 400–599: [`crate::Emulator::start_with`] refuses
    /// others, and [`crate::Emulator::inject`] answers them as 500.
    pub fn status(status: u16) -> Fault {
        Fault::once(FaultKind::Status {
            status,
            retry_after: None,
            after_operation: false,
        })
    }

    /// Answer 429 with `Retry-After: <seconds>`.
    pub fn rate_limited(retry_after_secs: u64) -> Fault {
        Fault::once(FaultKind::Status {
            status: 429,
            retry_after: Some(retry_after_secs),
            after_operation: false,
        })
    }

    /// Add `Retry-After: <seconds>` to a status fault; other faults are left unchanged.
    pub fn retry_after(mut self, secs: u64) -> Fault {
        if let FaultKind::Status { retry_after, .. } = &mut self.kind {
            *retry_after = Some(secs);
        }
        self
    }

    /// Make a status fault run the operation first and only then answer its status, as a
    /// gateway that lost the answer would: the change is made, the client sees an error.
    /// Other faults are left unchanged.
    pub fn after_operation(mut self) -> Fault {
        if let FaultKind::Status {
            after_operation, ..
        } = &mut self.kind
        {
            *after_operation = true;
        }
        self
    }

    /// Wait this long before running the operation.
    pub fn latency(delay: Duration) -> Fault {
        Fault::once(FaultKind::Latency(delay))
    }

    /// Run the operation, send the status, headers and half of the first body chunk, then
    /// drop the connection.
    pub fn reset_mid_body() -> Fault {
        Fault::once(FaultKind::ResetMidBody)
    }

    /// Run the operation and drop the connection after this many body chunks; a stream sends
    /// one chunk per event (keep-alives included).
    pub fn drop_stream_after(events: usize) -> Fault {
        Fault::once(FaultKind::DropStreamAfter(events))
    }

    /// Never answer: the request hangs until the client gives up or the emulator stops.
    pub fn stall() -> Fault {
        Fault::once(FaultKind::Stall)
    }

    /// Run the operation but send a body that is not valid JSON (the first half of it); on a
    /// stream, the first event's data is cut short instead.
    pub fn malformed_json() -> Fault {
        Fault::once(FaultKind::MalformedJson)
    }

    /// Apply to the next `n` matching requests (the default is 1; 0 applies to none).
    pub fn times(mut self, n: u32) -> Fault {
        self.times = Some(n);
        self
    }

    /// Apply to every matching request until [`crate::Emulator::clear_faults`].
    pub fn always(mut self) -> Fault {
        self.times = None;
        self
    }

    /// The status of a status fault outside 400–599, which no fault may answer.
    pub(crate) fn invalid_status(&self) -> Option<u16> {
        match self.kind {
            FaultKind::Status { status, .. } if !STATUSES.contains(&status) => Some(status),
            _ => None,
        }
    }

    fn once(kind: FaultKind) -> Fault {
        Fault {
            kind,
            times: Some(1),
        }
    }
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultTarget {
    /// Every request, unknown routes included.
    Any,
    /// The requests of one operation.
    Operation(Operation),
}

impl From<Operation> for FaultTarget {
    fn from(op: Operation) -> Self {
        FaultTarget::Operation(op)
    }
}

/// A fault with its target, as given to [`crate::EmulatorConfig::fault`] or `--fault`.
///
/// Its text form is `TARGET:KIND[:OPTION]...`: TARGET is an operationId (`getApp`) or `*`;
/// KIND is `status=CODE`, `rate-limit=SECS`, `latency=MS`, `reset`, `drop-after=N`, `stall`
/// or `malformed`; OPTION is `times=N`, `always`, `retry-after=SECS` or `after-operation`.
/// For example `getApp:status=503:times=2`, `deployApp:status=502:after-operation` or
/// `*:latency=50:always`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// Which requests it applies to.
    pub target: FaultTarget,
    /// What they do.
    pub fault: Fault,
}

/// The error of parsing a [`FaultRule`] from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault `{rule}`: {reason}")]
pub struct InvalidFaultRule {
    rule: String,
    reason: String,
}

impl FromStr for FaultRule {
    type Err = InvalidFaultRule;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| InvalidFaultRule {
            rule: s.to_owned(),
            reason,
        };
        let mut parts = s.split(':');
        let target = match parts.next().unwrap_or_default() {
            "*" => FaultTarget::Any,
            op => FaultTarget::Operation(op.parse().map_err(|e| invalid(format!("{e}")))?),
        };
        let kind = parts.next().ok_or_else(|| {
            invalid("a kind must follow the target, e.g. getApp:status=503".into())
        })?;
        let (name, arg) = match kind.split_once('=') {
            Some((name, arg)) => (name, Some(arg)),
            None => (kind, None),
        };
        let number = |arg: Option<&str>| -> Result<u64, InvalidFaultRule> {
            arg.and_then(|a| a.parse().ok())
                .ok_or_else(|| invalid(format!("{name} needs a number, as in {name}=5")))
        };
        let mut fault = match name {
            "status" => Fault::status(
                u16::try_from(number(arg)?)
                    .ok()
                    .filter(|status| STATUSES.contains(status))
                    .ok_or_else(|| {
                        invalid("status must be an error status from 400 to 599".into())
                    })?,
            ),
            "rate-limit" => Fault::rate_limited(number(arg)?),
            "latency" => Fault::latency(Duration::from_millis(number(arg)?)),
            "drop-after" => Fault::drop_stream_after(number(arg)? as usize),
            "reset" => Fault::reset_mid_body(),
            "stall" => Fault::stall(),
            "malformed" => Fault::malformed_json(),
            other => {
                return Err(invalid(format!(
                    "unknown kind `{other}`; use status, rate-limit, latency, reset, drop-after, stall or malformed"
                )))
            }
        };
        for option in parts {
            fault = match option.split_once('=') {
                None if option == "always" => fault.always(),
                None if option == "after-operation" => fault.after_operation(),
                Some(("times", n)) => fault.times(
                    n.parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| invalid("times needs a number from 1, as in times=3".into()))?,
                ),
                Some(("retry-after", n)) => fault.retry_after(
                    n.parse()
                        .map_err(|_| invalid("retry-after needs seconds".into()))?,
                ),
                _ => {
                    return Err(invalid(format!(
                        "unknown option `{option}`; use times=N, always, retry-after=SECS or after-operation"
                    )))
                }
            };
        }
        Ok(FaultRule { target, fault })
    }
}

impl fmt::Display for FaultTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultTarget::Any => f.write_str("*"),
            FaultTarget::Operation(op) => write!(f, "{op}"),
        }
    }
}

/// The middleware that applies the first matching fault to a request.
pub(crate) async fn apply(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let operation = Operation::recognize(req.method(), req.uri().path());
    let Some(fault) = take(&shared, operation) else {
        return next.run(req).await;
    };
    match fault {
        FaultKind::Status {
            status,
            retry_after,
            after_operation,
        } => {
            if after_operation {
                // Read the answer to its end, so a change the operation makes is complete.
                let answer = next.run(req).await;
                let _ = axum::body::to_bytes(answer.into_body(), usize::MAX).await;
            }
            status_error(status, retry_after).into_response()
        }
        FaultKind::Latency(delay) => {
            tokio::time::sleep(delay).await;
            next.run(req).await
        }
        FaultKind::Stall => std::future::pending().await,
        FaultKind::ResetMidBody => reset_mid_body(next.run(req).await),
        FaultKind::DropStreamAfter(n) => drop_after(next.run(req).await, n),
        FaultKind::MalformedJson => malformed(next.run(req).await).await,
    }
}

fn take(shared: &Shared, operation: Option<Operation>) -> Option<FaultKind> {
    let mut rules = shared.faults.lock().unwrap_or_else(|e| e.into_inner());
    // A rule with no uses left (`times(0)`) applies to nothing.
    rules.retain(|rule| rule.fault.times != Some(0));
    let index = rules.iter().position(|rule| match rule.target {
        FaultTarget::Any => true,
        FaultTarget::Operation(op) => Some(op) == operation,
    })?;
    let rule = &mut rules[index];
    let kind = rule.fault.kind.clone();
    if let Some(times) = &mut rule.fault.times {
        *times = times.saturating_sub(1);
        if *times == 0 {
            rules.remove(index);
        }
    }
    Some(kind)
}

fn status_error(status: u16, retry_after: Option<u64>) -> ApiError {
    let status = Some(status)
        .filter(|status| STATUSES.contains(status))
        .and_then(|status| StatusCode::from_u16(status).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let code = match status.as_u16() {
        429 => "rate_limited",
        502 => "bad_gateway",
        503 => "service_unavailable",
        504 => "gateway_timeout",
        s if s >= 500 => "internal_error",
        _ => "injected_fault",
    };
    let mut error = ApiError::new(status, code, format!("injected fault: {status}"));
    if let Some(secs) = retry_after {
        error = error.with_header(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    error
}

fn reset_mid_body(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let mut chunks = body.into_data_stream();
    let cut = futures_util::stream::once(async move {
        let first = chunks.next().await.and_then(Result::ok).unwrap_or_default();
        first.slice(..first.len() / 2)
    });
    let frames = cut.map(Ok::<_, std::io::Error>).chain(reset());
    Response::from_parts(parts, Body::from_stream(frames))
}

fn drop_after(response: Response, n: usize) -> Response {
    let (parts, body) = response.into_parts();
    let frames = body
        .into_data_stream()
        .map(|chunk| chunk.map_err(std::io::Error::other))
        .take(n)
        .chain(reset());
    Response::from_parts(parts, Body::from_stream(frames))
}

async fn malformed(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    if parts.status == StatusCode::NO_CONTENT {
        return Response::from_parts(parts, body);
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let streamed = content_type.starts_with(crate::stream::SSE)
        || content_type.starts_with(crate::stream::NDJSON);
    if streamed {
        let broken = if content_type.starts_with(crate::stream::SSE) {
            Bytes::from_static(b"event: message\ndata: {\"truncated\":\n\n")
        } else {
            Bytes::from_static(b"{\"truncated\":\n")
        };
        let frames = body
            .into_data_stream()
            .enumerate()
            .map(move |(i, chunk)| match i {
                0 => Ok(broken.clone()),
                _ => chunk.map_err(std::io::Error::other),
            });
        return Response::from_parts(parts, Body::from_stream(frames));
    }
    let bytes = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let cut = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(cut))
}

/// A body error that drops the connection, after a pause that lets what was sent so far
/// reach the client.
fn reset() -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::once(async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected fault: connection reset",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_rule_parses_from_its_text_form() {
        let rule: FaultRule = "getApp:status=503:times=2:retry-after=3".parse().unwrap();
        assert_eq!(rule.target, FaultTarget::Operation(Operation::GetApp));
        assert_eq!(rule.fault, Fault::status(503).times(2).retry_after(3));
        let rule: FaultRule = "*:latency=50:always".parse().unwrap();
        assert_eq!(rule.target, FaultTarget::Any);
        assert_eq!(
            rule.fault,
            Fault::latency(Duration::from_millis(50)).always()
        );
        let rule: FaultRule = "streamRevisionProgress:drop-after=2".parse().unwrap();
        assert_eq!(rule.fault, Fault::drop_stream_after(2));
        let rule: FaultRule = "deployApp:status=502:after-operation".parse().unwrap();
        assert_eq!(rule.fault, Fault::status(502).after_operation());
        assert_ne!(rule.fault, Fault::status(502));
    }

    #[test]
    fn fault_statuses_are_limited_to_the_error_statuses() {
        assert_eq!(Fault::status(999).invalid_status(), Some(999));
        assert_eq!(Fault::status(200).invalid_status(), Some(200));
        assert_eq!(Fault::status(400).invalid_status(), None);
        assert_eq!(Fault::status(599).invalid_status(), None);
        assert_eq!(Fault::latency(Duration::ZERO).invalid_status(), None);
        assert_eq!(
            status_error(999, None).status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status_error(204, None).status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(status_error(418, None).status, StatusCode::IM_A_TEAPOT);
        let rule: FaultRule = "getApp:status=599".parse().unwrap();
        assert_eq!(rule.fault, Fault::status(599));
    }

    #[test]
    fn a_bad_fault_rule_says_what_is_wrong() {
        for (text, part) in [
            ("getapps:reset", "unknown operation"),
            ("getApp", "a kind must follow"),
            ("getApp:status=abc", "needs a number"),
            ("getApp:explode", "unknown kind"),
            ("getApp:reset:twice", "unknown option"),
            ("getApp:status=503:times=0", "times needs a number from 1"),
            (
                "getApp:status=999",
                "status must be an error status from 400 to 599",
            ),
            (
                "getApp:status=399",
                "status must be an error status from 400 to 599",
            ),
            (
                "getApp:status=70000",
                "status must be an error status from 400 to 599",
            ),
        ] {
            let err = text.parse::<FaultRule>().unwrap_err().to_string();
            assert!(err.contains(part), "{text}: {err}");
        }
    }
}
