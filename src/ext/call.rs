//! Per-call context that hand-written code hands to the generated request hooks.
//!
//! The generated builders cannot carry extra fields, so a call that needs more than the spec's
//! parameters (a label filter, the final URL of a page) runs inside a task-local [`CallContext`]
//! that the client's `pre` and `post` hooks read.

use std::{future::Future, sync::Mutex};

use url::Url;

/// What one call adds to the generated request, and what it wants back from it.
#[derive(Debug, Default)]
pub(crate) struct CallContext {
    /// The operation these extras belong to (snake case, as the hooks see it).
    pub operation: &'static str,
    /// An `Accept` header replacing the generated one (streams choose SSE or NDJSON).
    pub accept: Option<reqwest::header::HeaderValue>,
    /// Query text appended verbatim (already percent-encoded), such as `labels[env]=prod`.
    pub extra_query: Vec<String>,
    /// The URL the response came from, after redirects; filled by the `post` hook.
    pub response_url: Mutex<Option<Url>>,
}

tokio::task_local! {
    static CALL: CallContext;
}

impl CallContext {
    /// Runs `call` with this context visible to the hooks of the requests it sends, and returns
    /// its output with the URL its last response came from.
    pub async fn scope<F: Future>(self, call: F) -> (F::Output, Option<Url>) {
        CALL.scope(self, async move {
            let output = call.await;
            let url = CALL.with(|c| c.response_url.lock().ok().and_then(|mut u| u.take()));
            (output, url)
        })
        .await
    }
}

/// Called by the `pre` hook: appends this call's extra query text to a request of its operation.
pub(crate) fn apply_to_request(request: &mut reqwest::Request, operation: &str) {
    let _ = CALL.try_with(|call| {
        if call.operation != operation {
            return;
        }
        if let Some(accept) = &call.accept {
            request
                .headers_mut()
                .insert(reqwest::header::ACCEPT, accept.clone());
        }
        if call.extra_query.is_empty() {
            return;
        }
        let url = request.url_mut();
        let mut query = url.query().unwrap_or_default().to_owned();
        for pair in &call.extra_query {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(pair);
        }
        url.set_query(Some(&query));
    });
}

/// Called by the `post` hook: records where a response of this call's operation came from.
pub(crate) fn record_response(response: &reqwest::Response, operation: &str) {
    let _ = CALL.try_with(|call| {
        if call.operation == operation {
            if let Ok(mut slot) = call.response_url.lock() {
                *slot = Some(response.url().clone());
            }
        }
    });
}
