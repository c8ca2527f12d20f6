//! The HTTP surface: routes under `/v2`, and the middleware around them.
//!
//! From the outside in: request counting, fault injection, turning every error into the
//! spec's `Error` JSON (405 with `Allow`, unknown routes 404), bearer auth, then the routes.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::error::ApiError;
use crate::operation::Operation;
use crate::store::Shared;
use crate::{apps, fault, logs, revisions};

/// The largest request body accepted (a deploy carries its assets inline).
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// The emulator's whole router.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let routes = Router::new()
        .route("/v2/apps", get(apps::list).post(apps::create))
        .route(
            "/v2/apps/{app}",
            get(apps::get).patch(apps::update).delete(apps::delete),
        )
        .route("/v2/apps/{app}/deploy", post(revisions::deploy))
        .route("/v2/apps/{app}/revisions", get(revisions::list))
        .route("/v2/apps/{app}/logs", get(logs::get))
        .route(
            "/v2/revisions/{revision}",
            get(revisions::get).delete(revisions::delete),
        )
        .route("/v2/revisions/{revision}/cancel", post(revisions::cancel))
        .route(
            "/v2/revisions/{revision}/progress",
            get(revisions::progress),
        )
        .fallback(unknown_route)
        .with_state(shared.clone());
    // The middleware wraps the routes as a whole, so it sees their final answers (a 405's
    // `Allow` header is only added on the way out of the routes).
    Router::new()
        .fallback_service(routes)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(shared.clone(), authenticate))
        .layer(middleware::from_fn(error_json))
        .layer(middleware::from_fn_with_state(shared.clone(), fault::apply))
        .layer(middleware::from_fn_with_state(shared, count))
}

async fn count(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    shared.count_request(Operation::recognize(req.method(), req.uri().path()));
    next.run(req).await
}

/// Accepts `Authorization: Bearer <token>`: the configured token, or else any `ddo_` token.
/// Requests for no operation (unknown routes, wrong methods) pass, to be answered 404 or 405.
async fn authenticate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    if Operation::recognize(req.method(), req.uri().path()).is_none() {
        return next.run(req).await;
    }
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default());
    let Some(header) = header else {
        return ApiError::unauthorized("missing Authorization header; send `Bearer <token>`")
            .into_response();
    };
    let token = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(token) = token else {
        return ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
            .into_response();
    };
    let accepted = match &shared.settings.token {
        Some(expected) => token == expected,
        None => token.starts_with("ddo_") && token.len() > 4,
    };
    if !accepted {
        let message = match shared.settings.token {
            Some(_) => "the bearer token is not valid",
            None => "the bearer token is not valid: Deno Deploy tokens start with ddo_",
        };
        return ApiError::unauthorized(message).into_response();
    }
    next.run(req).await
}

async fn unknown_route(method: Method, uri: axum::http::Uri) -> Response {
    ApiError::not_found("not_found", format!("no route for {method} {}", uri.path()))
        .into_response()
}

/// Gives every error the `Error` JSON body: 405s name the allowed methods, and rejections
/// from extractors keep their status and text.
async fn error_json(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    let status = response.status();
    if status.is_success() || status.is_informational() || status.is_redirection() {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status == StatusCode::METHOD_NOT_ALLOWED {
        let mut methods: Vec<&str> = Vec::new();
        for value in response.headers().get_all(header::ALLOW) {
            for method in value.to_str().unwrap_or_default().split(',') {
                let method = method.trim();
                if !method.is_empty() && !methods.contains(&method) {
                    methods.push(method);
                }
            }
        }
        let error = ApiError::new(
            status,
            "method_not_allowed",
            format!(
                "method {method} is not allowed on {path}; allowed: {}",
                methods.join(", ")
            ),
        );
        let allow = HeaderValue::from_str(&methods.join(", "))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        return error.with_header(header::ALLOW, allow).into_response();
    }
    if is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let code = match parts.status {
        StatusCode::BAD_REQUEST => "invalid_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        _ => "error",
    };
    let message = if text.is_empty() {
        parts
            .status
            .canonical_reason()
            .unwrap_or("error")
            .to_owned()
    } else {
        text
    };
    ApiError::new(parts.status, code, message).into_response()
}
