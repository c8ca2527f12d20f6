//! The twelve operations of the spec, named by their `operationId`.
//!
//! Requests are recognised from their method and path, so request counts and fault injection
//! can address an operation before any handler runs.

use std::fmt;
use std::str::FromStr;

use axum::http::Method;

/// One operation of the Deno Deploy API v2, as named by the spec's `operationId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `GET /apps`
    ListApps,
    /// `POST /apps`
    CreateApp,
    /// `GET /apps/{app}`
    GetApp,
    /// `PATCH /apps/{app}`
    UpdateApp,
    /// `DELETE /apps/{app}`
    DeleteApp,
    /// `POST /apps/{app}/deploy`
    DeployApp,
    /// `GET /apps/{app}/revisions`
    ListRevisions,
    /// `GET /apps/{app}/logs`
    GetAppLogs,
    /// `GET /revisions/{revision}`
    GetRevision,
    /// `DELETE /revisions/{revision}`
    DeleteRevision,
    /// `POST /revisions/{revision}/cancel`
    CancelRevision,
    /// `GET /revisions/{revision}/progress`
    StreamRevisionProgress,
}

/// The error of parsing an unknown `operationId`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown operation `{0}`; expected an operationId of the spec such as getApp")]
pub struct UnknownOperation(pub String);

impl Operation {
    /// Every operation, in the spec's order.
    pub const ALL: [Operation; 12] = [
        Operation::ListApps,
        Operation::CreateApp,
        Operation::GetApp,
        Operation::UpdateApp,
        Operation::DeleteApp,
        Operation::DeployApp,
        Operation::ListRevisions,
        Operation::GetAppLogs,
        Operation::GetRevision,
        Operation::DeleteRevision,
        Operation::CancelRevision,
        Operation::StreamRevisionProgress,
    ];

    /// The spec's `operationId`, e.g. `getApp`.
    pub fn operation_id(self) -> &'static str {
        match self {
            Operation::ListApps => "listApps",
            Operation::CreateApp => "createApp",
            Operation::GetApp => "getApp",
            Operation::UpdateApp => "updateApp",
            Operation::DeleteApp => "deleteApp",
            Operation::DeployApp => "deployApp",
            Operation::ListRevisions => "listRevisions",
            Operation::GetAppLogs => "getAppLogs",
            Operation::GetRevision => "getRevision",
            Operation::DeleteRevision => "deleteRevision",
            Operation::CancelRevision => "cancelRevision",
            Operation::StreamRevisionProgress => "streamRevisionProgress",
        }
    }

    /// Recognises the operation of a request from its method and its path (with `/v2`).
    pub fn recognize(method: &Method, path: &str) -> Option<Operation> {
        let rest = path.strip_prefix("/v2/")?;
        let segments: Vec<&str> = rest.split('/').collect();
        let get = *method == Method::GET || *method == Method::HEAD;
        let op = match segments.as_slice() {
            ["apps"] if get => Operation::ListApps,
            ["apps"] if *method == Method::POST => Operation::CreateApp,
            ["apps", app] if !app.is_empty() => match *method {
                Method::PATCH => Operation::UpdateApp,
                Method::DELETE => Operation::DeleteApp,
                _ if get => Operation::GetApp,
                _ => return None,
            },
            ["apps", app, "deploy"] if !app.is_empty() && *method == Method::POST => {
                Operation::DeployApp
            }
            ["apps", app, "revisions"] if !app.is_empty() && get => Operation::ListRevisions,
            ["apps", app, "logs"] if !app.is_empty() && get => Operation::GetAppLogs,
            ["revisions", rev] if !rev.is_empty() => match *method {
                Method::DELETE => Operation::DeleteRevision,
                _ if get => Operation::GetRevision,
                _ => return None,
            },
            ["revisions", rev, "cancel"] if !rev.is_empty() && *method == Method::POST => {
                Operation::CancelRevision
            }
            ["revisions", rev, "progress"] if !rev.is_empty() && get => {
                Operation::StreamRevisionProgress
            }
            _ => return None,
        };
        Some(op)
    }

    pub(crate) fn index(self) -> usize {
        Operation::ALL
            .iter()
            .position(|op| *op == self)
            .unwrap_or_default()
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.operation_id())
    }
}

impl FromStr for Operation {
    type Err = UnknownOperation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Operation::ALL
            .into_iter()
            .find(|op| op.operation_id().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownOperation(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_id_parses_back() {
        for op in Operation::ALL {
            assert_eq!(op.operation_id().parse::<Operation>(), Ok(op));
        }
        assert!("getApps".parse::<Operation>().is_err());
    }

    #[test]
    fn requests_are_recognised_by_method_and_path() {
        let cases = [
            (Method::GET, "/v2/apps", Some(Operation::ListApps)),
            (Method::POST, "/v2/apps", Some(Operation::CreateApp)),
            (Method::HEAD, "/v2/apps/x", Some(Operation::GetApp)),
            (Method::PATCH, "/v2/apps/x", Some(Operation::UpdateApp)),
            (Method::DELETE, "/v2/apps/x", Some(Operation::DeleteApp)),
            (
                Method::POST,
                "/v2/apps/x/deploy",
                Some(Operation::DeployApp),
            ),
            (
                Method::GET,
                "/v2/apps/x/revisions",
                Some(Operation::ListRevisions),
            ),
            (Method::GET, "/v2/apps/x/logs", Some(Operation::GetAppLogs)),
            (Method::GET, "/v2/revisions/r", Some(Operation::GetRevision)),
            (
                Method::DELETE,
                "/v2/revisions/r",
                Some(Operation::DeleteRevision),
            ),
            (
                Method::POST,
                "/v2/revisions/r/cancel",
                Some(Operation::CancelRevision),
            ),
            (
                Method::GET,
                "/v2/revisions/r/progress",
                Some(Operation::StreamRevisionProgress),
            ),
            (Method::PUT, "/v2/apps", None),
            (Method::GET, "/v2/apps//logs", None),
            (Method::GET, "/apps", None),
        ];
        for (method, path, expected) in cases {
            assert_eq!(
                Operation::recognize(&method, path),
                expected,
                "{method} {path}"
            );
        }
    }
}
