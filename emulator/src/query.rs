//! Query strings: typed parameters, opaque cursors and the `Link` header of list pages.
//!
//! Cursors are base64url (unpadded) of `<list>:<position>`; a cursor from another list, or
//! anything that does not decode, is a 400.

use std::collections::BTreeMap;

use axum::http::{header, HeaderMap, HeaderValue};

use crate::store::Settings;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};

use crate::error::{ApiError, ApiResult};

/// The decoded query string of a request, in order.
#[derive(Debug, Default)]
pub(crate) struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        QueryParams { pairs }
    }

    /// The last value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `labels[key]=value` pairs (deepObject style).
    pub fn labels(&self) -> ApiResult<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for (k, v) in &self.pairs {
            if k == "labels" {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    "labels must use deepObject style: labels[key]=value",
                ));
            }
            if let Some(rest) = k.strip_prefix("labels[") {
                // An empty key (`labels[]`) is a label like any other: create accepts it, and
                // so are brackets in a key. `][` inside means a nested value (`labels[a][b]`),
                // an object where the spec has a string.
                let key = rest.strip_suffix(']').filter(|key| !key.contains("]["));
                let key = key.ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_query",
                        format!("query parameter `{k}` must have the form labels[key]=value"),
                    )
                })?;
                out.insert(key.to_owned(), v.clone());
            }
        }
        Ok(out)
    }

    /// `limit`, checked against its range.
    pub fn limit(&self, default: usize, max: usize) -> ApiResult<usize> {
        let Some(raw) = self.get("limit") else {
            return Ok(default);
        };
        match raw.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(
                "invalid_limit",
                format!("limit must be an integer from 1 to {max}, got `{raw}`"),
            )),
        }
    }

    /// A parameter that must be one of `allowed`.
    pub fn one_of(&self, name: &str, allowed: &[&str]) -> ApiResult<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v.to_owned())),
            Some(v) => Err(ApiError::bad_request(
                "invalid_query",
                format!("{name} must be one of {}, not `{v}`", allowed.join(", ")),
            )),
        }
    }

    /// An RFC 3339 date-time parameter. A `+` left unencoded arrives as a space; it is read
    /// back as `+` since a date-time has no spaces.
    pub fn date_time(&self, name: &str) -> ApiResult<Option<DateTime<Utc>>> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        DateTime::parse_from_rfc3339(raw)
            .or_else(|e| match raw.contains(' ') {
                true => DateTime::parse_from_rfc3339(&raw.replace(' ', "+")),
                false => Err(e),
            })
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| {
                ApiError::bad_request(
                    "invalid_query",
                    format!(
                        "{name} must be an RFC 3339 date-time such as 2025-01-31T12:00:00Z, got `{raw}`"
                    ),
                )
            })
    }
}

/// Which list a cursor belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CursorKind {
    Apps,
    Revisions,
    Logs,
}

impl CursorKind {
    fn prefix(self) -> &'static str {
        match self {
            CursorKind::Apps => "apps",
            CursorKind::Revisions => "revisions",
            CursorKind::Logs => "logs",
        }
    }
}

/// An opaque cursor for a position in a list.
pub(crate) fn encode_cursor(kind: CursorKind, position: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{position}", kind.prefix()))
}

/// The position in a cursor, or a 400 when it is not one of this list's cursors.
pub(crate) fn decode_cursor(kind: CursorKind, cursor: &str) -> ApiResult<u64> {
    URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            let position = text.strip_prefix(kind.prefix())?.strip_prefix(':')?;
            position.parse::<u64>().ok()
        })
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_cursor",
                format!(
                    "cursor `{cursor}` is not a cursor of this {} list; use the one from the last Link header",
                    kind.prefix()
                ),
            )
        })
}

/// `<absolute URL>; rel="next"` for the list at `path` (`/v2/apps`) with `query`.
///
/// The base is the configured public URL (a proxy in front), else the request's `Host` when it
/// is a plain host and port, else the emulator's own address.
pub(crate) fn next_link(
    settings: &Settings,
    headers: &HeaderMap,
    path: &str,
    query: &[(&str, String)],
) -> HeaderValue {
    let base = match &settings.public_url {
        Some(url) => url.clone(),
        None => {
            let origin = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| {
                    !h.is_empty()
                        && h.chars()
                            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
                })
                .map(|h| format!("http://{h}"))
                .unwrap_or_else(|| settings.origin.clone());
            format!("{origin}{API_PREFIX}")
        }
    };
    let path = path.strip_prefix(API_PREFIX).unwrap_or(path);
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        serializer.append_pair(k, v);
    }
    let link = format!("<{base}{path}?{}>; rel=\"next\"", serializer.finish());
    HeaderValue::from_str(&link).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The path every route of the API lives under.
const API_PREFIX: &str = "/v2";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_is_bound_to_its_list() {
        let cursor = encode_cursor(CursorKind::Apps, 42);
        assert_eq!(decode_cursor(CursorKind::Apps, &cursor).unwrap(), 42);
        assert!(decode_cursor(CursorKind::Logs, &cursor).is_err());
        assert!(decode_cursor(CursorKind::Apps, "!!").is_err());
        assert!(decode_cursor(CursorKind::Apps, &URL_SAFE_NO_PAD.encode("apps:x")).is_err());
    }

    #[test]
    fn labels_are_read_in_deep_object_style() {
        let q = QueryParams::parse(Some("labels%5Benv%5D=prod&labels[team]=a%20b&limit=2"));
        let labels = q.labels().unwrap();
        assert_eq!(labels.get("env").map(String::as_str), Some("prod"));
        assert_eq!(labels.get("team").map(String::as_str), Some("a b"));
        assert!(QueryParams::parse(Some("labels=x")).labels().is_err());
    }

    #[test]
    fn an_empty_label_key_is_a_label_and_a_nested_or_unclosed_one_is_refused() {
        let labels = QueryParams::parse(Some("labels%5B%5D=x&labels[[a]=y"))
            .labels()
            .unwrap();
        assert_eq!(labels.get("").map(String::as_str), Some("x"));
        assert_eq!(labels.get("[a").map(String::as_str), Some("y"));
        for query in ["labels[env=x", "labels[env][]=x", "labels[a][b]=x"] {
            let err = QueryParams::parse(Some(query)).labels().unwrap_err();
            assert_eq!(err.code, "invalid_query", "{query}");
        }
    }

    #[test]
    fn an_unencoded_plus_in_a_date_time_is_understood() {
        let q = QueryParams::parse(Some("start=2025-01-01T10:00:00+01:00"));
        let at = q.date_time("start").unwrap().unwrap();
        assert_eq!(at.to_rfc3339(), "2025-01-01T09:00:00+00:00");
    }
}
