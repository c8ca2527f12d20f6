//! The crate's one error type, for generated and hand-written calls alike.
//!
//! Errors from generated `send()` calls (`progenitor_client::Error`) convert into [`Error`] with
//! `?`; [`Error::from_raw`] also reads the body of an undocumented status.

use std::fmt;

use futures::FutureExt as _;
use reqwest::{header::HeaderMap, StatusCode};

use crate::types;

/// Headers that carry the server's request or trace id, in order of preference.
const REQUEST_ID_HEADERS: [&str; 4] = ["x-request-id", "x-deno-ray", "x-trace-id", "traceparent"];
/// How much of an unexpected body is kept for the message.
const BODY_EXCERPT_LIMIT: usize = 512;

/// What went wrong in a call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an error status.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// An input breaks a rule the spec states; nothing was sent.
    #[error("invalid {field}: {rule}")]
    InvalidInput {
        /// The field, as the API names it (`slug`, `env_vars[0].key`, `limit`).
        field: String,
        /// The rule it breaks.
        rule: String,
    },
    /// The client's own configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// A request, or a link the server handed back, points at another origin than the base URL.
    #[error("refusing to send the token to another origin: {url}")]
    ForeignOrigin {
        /// The URL without its query.
        url: String,
    },
    /// The request could not be sent, or the connection broke. Its message says which (timed
    /// out, could not connect, broke mid-body), then the cause.
    #[error("transport: {kind}: {0}", kind = transport_kind(.0))]
    Transport(#[source] reqwest::Error),
    /// A response body does not match the spec's schema.
    #[error("cannot decode the {what}: {message}")]
    Decode {
        /// What was being decoded (`App`, `progress event`, ...).
        what: String,
        /// The decoder's explanation.
        message: String,
    },
    /// A stream ended or broke before its terminal event.
    #[error("stream: {0}")]
    Stream(String),
    /// Walking pages stopped because the server's links would loop or leave the API.
    #[error("pagination: {0}")]
    Pagination(String),
    /// A revision's build ended in `failed` (or `skipped`).
    #[error("revision {revision_id} {status}: {reason}")]
    RevisionFailed {
        /// The revision's id.
        revision_id: String,
        /// Its final status.
        status: String,
        /// The server's `failure_reason`, or the failed stage.
        reason: String,
        /// The final revision, as the API returned it.
        revision: Box<Option<types::Revision>>,
    },
    /// Waiting gave up.
    #[error("timed out after {seconds:.1} s while {what}")]
    Timeout {
        /// What was being waited for.
        what: String,
        /// The limit that ran out.
        seconds: f64,
    },
    /// Collecting a directory into assets failed.
    #[error(transparent)]
    Assets(#[from] crate::ext::assets::AssetsError),
}

/// What happened to a request that got no usable answer, in words a person can act on.
fn transport_kind(error: &reqwest::Error) -> &'static str {
    if error.is_connect() && error.is_timeout() {
        "timed out connecting to the server (the client's connect timeout ran out)"
    } else if error.is_timeout() {
        "timed out waiting for the server (the client's request timeout ran out, or a stream's \
         idle timeout)"
    } else if error.is_connect() {
        "could not connect to the server"
    } else if error.is_body() || error.is_decode() {
        "the connection broke while the body was being transferred"
    } else if error.is_redirect() {
        "a redirect could not be followed"
    } else if error.is_builder() {
        "the request could not be built"
    } else {
        "the request could not be sent, or the connection broke"
    }
}

/// An error status from the API, with what the server said about it.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The API's machine-readable `code`, when it sent one.
    pub code: Option<String>,
    /// The API's message for people (or the status's reason phrase).
    pub message: String,
    /// The request or trace id the server sent, for support requests.
    pub request_id: Option<String>,
    /// How long the server asked to wait before trying again (`Retry-After`).
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    /// Whether repeating the same request later may succeed (408, 429 and 5xx).
    pub fn is_retryable(&self) -> bool {
        self.status == StatusCode::REQUEST_TIMEOUT
            || self.status == StatusCode::TOO_MANY_REQUESTS
            || self.status.is_server_error()
    }

    fn hint(&self) -> &'static str {
        match self.status.as_u16() {
            400 => "check the request against the API's rules",
            401 => "check that the token is valid and not expired",
            403 => "the token lacks access to this resource",
            404 => "check the app or revision id or slug",
            409 => "the resource is taken or in a state that forbids this",
            408 => "the server gave up waiting for the request; try again",
            429 => "rate limited: wait before sending more requests",
            500..=599 => "the service had a problem; try again later",
            _ => "see the API documentation for this status",
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "API error {}", self.status.as_u16())?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        write!(f, ": {} ({})", self.message, self.hint())?;
        if let Some(wait) = self.retry_after {
            write!(f, "; the server asks to wait {} s", wait.as_secs())?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl Error {
    /// The HTTP status, for errors the API answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(api) => Some(api.status),
            Error::Transport(e) => e.status(),
            _ => None,
        }
    }

    /// Whether repeating the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(api) => api.is_retryable(),
            // A decode error here is a body that broke while being read (nothing is decoded
            // at this level), so it is as transient as a broken connection.
            Error::Transport(e) => {
                e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() || e.is_decode()
            }
            Error::Stream(_) => true,
            _ => false,
        }
    }

    /// Converts a generated call's error, reading the body of an undocumented status so its
    /// message and code are kept.
    pub async fn from_raw(raw: progenitor_client::Error<types::Error>) -> Self {
        match raw {
            progenitor_client::Error::UnexpectedResponse(response) => {
                Self::from_response(response).await
            }
            other => other.into(),
        }
    }

    /// Builds the error for a response whose status is not a success, reading its body.
    pub(crate) async fn from_response(response: reqwest::Response) -> Self {
        let status = response.status();
        let request_id = request_id(response.headers());
        let retry_after = crate::retry::retry_after(response.headers());
        let body = response.bytes().await.unwrap_or_default();
        let mut error = api_error_from_body(status, request_id, &body);
        error.retry_after = retry_after;
        error.into()
    }
}

/// Reads the API's `Error` JSON from `body`, or keeps an excerpt of whatever it is.
pub(crate) fn api_error_from_body(
    status: StatusCode,
    request_id: Option<String>,
    body: &[u8],
) -> ApiError {
    let (message, code) = match serde_json::from_slice::<types::Error>(body) {
        Ok(err) => (err.error, err.code),
        Err(_) if body.is_empty() => (reason(status), None),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let excerpt: String = text.chars().take(BODY_EXCERPT_LIMIT).collect();
            (excerpt.trim().to_owned(), None)
        }
    };
    ApiError {
        status,
        code,
        message,
        request_id,
        retry_after: None,
    }
}

fn reason(status: StatusCode) -> String {
    status
        .canonical_reason()
        .unwrap_or("unexpected status")
        .to_owned()
}

/// The server's request or trace id, from the first header that carries one.
pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
        .map(str::to_owned)
}

impl From<progenitor_client::Error<types::Error>> for Error {
    fn from(raw: progenitor_client::Error<types::Error>) -> Self {
        use progenitor_client::Error as Raw;
        match raw {
            Raw::ErrorResponse(response) => {
                let status = response.status();
                let request_id = request_id(response.headers());
                let retry_after = crate::retry::retry_after(response.headers());
                let body = response.into_inner();
                Error::Api(ApiError {
                    status,
                    code: body.code,
                    message: body.error,
                    request_id,
                    retry_after,
                })
            }
            Raw::UnexpectedResponse(response) => {
                let status = response.status();
                let request_id = request_id(response.headers());
                let retry_after = crate::retry::retry_after(response.headers());
                // The exec hook reads a unary answer to its end, so its body is at hand now;
                // a body still streaming is not waited for.
                let body = response
                    .bytes()
                    .now_or_never()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                let mut error = api_error_from_body(status, request_id, &body);
                error.retry_after = retry_after;
                Error::Api(error)
            }
            Raw::InvalidRequest(message) => match message.strip_suffix(" was not initialized") {
                Some(field) => Error::InvalidInput {
                    field: field.to_owned(),
                    rule: "is required".into(),
                },
                None => {
                    let (field, rule) = conversion_rule(&message);
                    Error::InvalidInput { field, rule }
                }
            },
            Raw::CommunicationError(e) | Raw::ResponseBodyError(e) => Error::Transport(e),
            Raw::InvalidUpgrade(e) => Error::Transport(e),
            Raw::InvalidResponsePayload(_, e) => Error::Decode {
                what: "response body".into(),
                message: e.to_string(),
            },
            Raw::Custom(message) => from_hook_message(message),
        }
    }
}

impl From<types::error::ConversionError> for Error {
    /// A value refused by a generated type's own rules (a slug's pattern, a key's length).
    fn from(error: types::error::ConversionError) -> Self {
        Error::InvalidInput {
            field: "value".into(),
            rule: error.to_string(),
        }
    }
}

/// The request hooks can only hand back a message; turn it back into the variant it came from.
fn from_hook_message(message: String) -> Error {
    if let Some(url) = message.strip_prefix("refusing to send the token to another origin: ") {
        return Error::ForeignOrigin {
            url: url.to_owned(),
        };
    }
    if let Some((field, rule)) = message
        .strip_prefix("invalid ")
        .and_then(|rest| rest.split_once(": "))
    {
        return Error::InvalidInput {
            field: field.to_owned(),
            rule: rule.to_owned(),
        };
    }
    Error::Config(message)
}

/// The generated builders report `conversion to `T` for <field> failed`, sometimes with `: why`
/// after it; pull out the field.
fn field_of_conversion(message: &str) -> String {
    message
        .split(" for ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(|field| field.trim_end_matches(':').to_owned())
        .unwrap_or_else(|| "request".to_owned())
}

/// The field and the rule, in plain words, of a generated builder's conversion failure: the
/// message names a Rust type (`:: std :: num :: NonZeroU64`), which means nothing to a caller.
fn conversion_rule(message: &str) -> (String, String) {
    let field = field_of_conversion(message);
    if let Some((_, why)) = message.split_once(" failed: ") {
        // A body's builder: its own message names the field it is about.
        if let Some(inner) = why.strip_prefix("no value supplied for ") {
            return (inner.trim().to_owned(), "is required".into());
        }
        if let Some((inner, why)) = why
            .strip_prefix("error converting supplied value for ")
            .and_then(|rest| rest.split_once(": "))
        {
            return (inner.to_owned(), without_type_paths(why));
        }
        return (field, without_type_paths(why));
    }
    let target = message
        .split('`')
        .nth(1)
        .unwrap_or_default()
        .replace(' ', "");
    let rule = if target.contains("NonZero") {
        "must be at least 1"
    } else if target.contains("DateTime") {
        "must be an RFC 3339 date-time"
    } else {
        "is not an accepted value"
    };
    (field, rule.into())
}

/// `text` with any backquoted Rust type path (one holding `::`) left out.
fn without_type_paths(text: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    for (i, part) in text.split('`').enumerate() {
        match i % 2 {
            0 => kept.push_str(part),
            _ if part.contains("::") => {}
            _ => {
                kept.push('`');
                kept.push_str(part);
                kept.push('`');
            }
        }
    }
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_keeps_its_code_message_and_request_id() {
        let err = api_error_from_body(
            StatusCode::CONFLICT,
            Some("req-7".into()),
            br#"{"error":"slug taken","code":"slug_conflict"}"#,
        );
        assert_eq!(err.code.as_deref(), Some("slug_conflict"));
        assert_eq!(
            err.to_string(),
            "API error 409 (slug_conflict): slug taken (the resource is taken or in a state \
             that forbids this) [request id req-7]"
        );
        assert!(!err.is_retryable());
    }

    #[test]
    fn a_body_that_is_not_json_is_kept_as_a_short_excerpt() {
        let body = "x".repeat(5000);
        let err = api_error_from_body(StatusCode::BAD_GATEWAY, None, body.as_bytes());
        assert_eq!(err.message.len(), BODY_EXCERPT_LIMIT);
        assert!(err.is_retryable());
        let empty = api_error_from_body(StatusCode::TOO_MANY_REQUESTS, None, b"");
        assert_eq!(empty.message, "Too Many Requests");
    }

    #[test]
    fn a_conversion_failure_names_its_field() {
        let raw = "conversion to `CreateAppRequestSlug` for slug failed: doesn't match pattern";
        assert_eq!(field_of_conversion(raw), "slug");
        assert_eq!(field_of_conversion("something else"), "request");
    }

    #[test]
    fn a_conversion_failure_reads_as_a_rule_without_rust_type_paths() {
        let cases = [
            (
                "conversion to `:: std :: num :: NonZeroU64` for limit failed",
                ("limit", "must be at least 1"),
            ),
            (
                "conversion to `:: chrono :: DateTime < :: chrono :: offset :: Utc >` for start failed",
                ("start", "must be an RFC 3339 date-time"),
            ),
            (
                "conversion to `GetAppLogsLevel` for level failed",
                ("level", "is not an accepted value"),
            ),
            (
                "conversion to `CreateAppRequest` for body failed: no value supplied for slug",
                ("slug", "is required"),
            ),
            (
                "conversion to `DeployRequest` for body failed: error converting supplied value \
                 for config: a `:: std :: string :: String` is too long",
                ("config", "a is too long"),
            ),
        ];
        for (message, (field, rule)) in cases {
            let error = Error::from(progenitor_client::Error::<types::Error>::InvalidRequest(
                message.to_owned(),
            ));
            match error {
                Error::InvalidInput { field: f, rule: r } => {
                    assert_eq!((f.as_str(), r.as_str()), (field, rule), "{message}");
                    assert!(!r.contains("::"), "{r}");
                }
                other => panic!("expected InvalidInput, got {other}"),
            }
        }
    }
}
