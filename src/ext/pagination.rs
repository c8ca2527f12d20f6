//! Cursor pagination for every list operation: a page type, a stream of pages, a stream of items.
//!
//! The next cursor comes from the `Link` header's `rel="next"` target (or, for historical logs,
//! from the body's `cursor`). A walk ends when there is no next page, and fails instead of
//! looping when a cursor repeats or a link leaves the API's origin.

use std::{
    collections::HashSet,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use futures::{stream::BoxStream, Stream, StreamExt, TryStreamExt};
use progenitor_client::ResponseValue;
use reqwest::header::LINK;
use url::Url;

use super::{call::CallContext, link};
use crate::{builder, types, Error};

/// One page of a list: its items and the cursor of the page after it.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items of this page, in the server's order.
    pub items: Vec<T>,
    /// The cursor to pass as `.cursor(...)` to fetch the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> IntoIterator for Page<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// A list request that can be repeated with another cursor. Implemented for each generated
/// list builder: build.rs finds the spec's list operations, so a new one needs no hand edit.
pub trait Paginated: Clone + Send + Sized {
    /// One listed item.
    type Item: Send;
    /// The response body of one page.
    type Body: Send;
    /// The operation id, as the request hooks see it.
    const OPERATION: &'static str;

    /// The same request, asking for the page at `cursor`.
    fn with_cursor(self, cursor: String) -> Self;

    /// Extra query text for this request (such as a label filter), already encoded.
    fn extra_query(&self) -> Vec<String> {
        Vec::new()
    }

    /// Sends the request for one page.
    fn send_page(
        self,
    ) -> impl Future<
        Output = Result<ResponseValue<Self::Body>, progenitor_client::Error<types::Error>>,
    > + Send;

    /// Splits a page's body into its items and the cursor the body itself carries, if any.
    fn split(body: Self::Body) -> (Vec<Self::Item>, Option<String>);

    /// Walks the pages, starting from this request's own cursor, if it has one.
    fn pages<'a>(self) -> Pages<'a, Self>
    where
        Self: 'a,
    {
        Pages::new(self)
    }

    /// Every item of every page, in order.
    fn stream<'a>(self) -> BoxStream<'a, Result<Self::Item, Error>>
    where
        Self: 'a,
        Self::Item: 'a,
    {
        self.pages().items()
    }
}

/// A stream of pages; set a cap with [`Pages::max_pages`] before polling it.
#[must_use = "streams do nothing unless polled"]
pub struct Pages<'a, R: Paginated + 'a> {
    request: Option<R>,
    max_pages: Option<usize>,
    walk: Option<BoxStream<'a, Result<Page<R::Item>, Error>>>,
}

impl<'a, R: Paginated + 'a> Pages<'a, R> {
    fn new(request: R) -> Self {
        Self {
            request: Some(request),
            max_pages: None,
            walk: None,
        }
    }

    /// Stops after `max` pages, even when the server offers more.
    pub fn max_pages(mut self, max: usize) -> Self {
        self.max_pages = Some(max);
        self
    }

    /// Flattens the pages into a stream of their items.
    pub fn items(self) -> BoxStream<'a, Result<R::Item, Error>>
    where
        R::Item: 'a,
    {
        self.map_ok(|page| futures::stream::iter(page.items.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }
}

impl<'a, R: Paginated + 'a> Stream for Pages<'a, R> {
    type Item = Result<Page<R::Item>, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.walk.is_none() {
            let Some(request) = self.request.take() else {
                return Poll::Ready(None);
            };
            let max = self.max_pages;
            self.walk = Some(walk(request, max).boxed());
        }
        match self.walk.as_mut() {
            Some(walk) => walk.poll_next_unpin(cx),
            None => Poll::Ready(None),
        }
    }
}

// `Pages` holds only boxed streams and the request, none of which need pinning in place.
impl<'a, R: Paginated + 'a> Unpin for Pages<'a, R> {}

struct WalkState<R> {
    first: R,
    cursor: Option<String>,
    seen: HashSet<String>,
    fetched: usize,
    done: bool,
    /// An error found in a page's links, reported after that page's items.
    pending: Option<Error>,
}

fn walk<'a, R: Paginated + 'a>(
    request: R,
    max_pages: Option<usize>,
) -> impl Stream<Item = Result<Page<R::Item>, Error>> + Send + 'a {
    let state = WalkState {
        first: request,
        cursor: None,
        seen: HashSet::new(),
        fetched: 0,
        done: false,
        pending: None,
    };
    futures::stream::try_unfold(state, move |mut state| async move {
        if let Some(error) = state.pending.take() {
            return Err(error);
        }
        if state.done || max_pages.is_some_and(|max| state.fetched >= max) {
            return Ok(None);
        }
        let request = match state.cursor.clone() {
            Some(cursor) => state.first.clone().with_cursor(cursor),
            None => state.first.clone(),
        };
        let context = CallContext {
            operation: R::OPERATION,
            extra_query: request.extra_query(),
            ..CallContext::default()
        };
        let (response, url) = context.scope(request.send_page()).await;
        let response = match response {
            Ok(response) => response,
            Err(raw) => return Err(Error::from_raw(raw).await),
        };
        state.fetched += 1;

        // A bad next link spoils only what comes after this page: yield the page first.
        let link_cursor = next_cursor_from_links(response.headers(), url.as_ref());
        let (items, body_cursor) = R::split(response.into_inner());
        let mut next = match link_cursor {
            Ok(cursor) => cursor.or(body_cursor.filter(|c| !c.is_empty())),
            Err(error) => {
                state.pending = Some(error);
                None
            }
        };
        if let Some(cursor) = next.take() {
            if state.seen.insert(cursor.clone()) {
                next = Some(cursor);
            } else {
                state.pending = Some(Error::Pagination(format!(
                    "the server repeated cursor {cursor:?} after {} pages; stopping instead of \
                     looping",
                    state.fetched
                )));
            }
        }
        state.done = next.is_none();
        state.cursor = next.clone();
        Ok(Some((
            Page {
                items,
                next_cursor: next,
            },
            state,
        )))
    })
}

/// The `cursor` of the `rel="next"` link among all `Link` header fields, if there is one.
///
/// # Errors
/// A malformed header, a next link to another origin than the request's, or one without a
/// `cursor` parameter.
pub fn next_cursor_from_links(
    headers: &reqwest::header::HeaderMap,
    request_url: Option<&Url>,
) -> Result<Option<String>, Error> {
    let values: Vec<&str> = headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if values.is_empty() {
        return Ok(None);
    }
    let base = request_url
        .cloned()
        .ok_or_else(|| Error::Pagination("the page's request URL is unknown".into()))?;
    let next = link::next_link(values, &base)
        .map_err(|e| Error::Pagination(format!("malformed Link header: {e}")))?;
    let Some(next) = next else {
        return Ok(None);
    };
    if !crate::client::same_origin(&next, &base) {
        let mut shown = next.clone();
        shown.set_query(None);
        return Err(Error::ForeignOrigin {
            url: shown.to_string(),
        });
    }
    match link::query_param(&next, "cursor") {
        Some(cursor) if !cursor.is_empty() => Ok(Some(cursor)),
        _ => Err(Error::Pagination(
            "the next link carries no cursor parameter".into(),
        )),
    }
}

/// Implements [`Paginated`] for a generated list builder: either its body is the array of items,
/// or it is an object with the items in one field and the next cursor in `cursor`.
macro_rules! paginated {
    ($builder:ident, $item:ty, $operation:literal) => {
        paginated!(@impl $builder, $item, $operation, Vec<$item>, |body| (body, None));
    };
    ($builder:ident, $item:ty, $operation:literal, $body:ty, $items:ident) => {
        paginated!(@impl $builder, $item, $operation, $body, |body| (body.$items, body.cursor));
    };
    (@impl $builder:ident, $item:ty, $operation:literal, $body:ty, $split:expr) => {
        impl<'a> Paginated for builder::$builder<'a> {
            type Item = $item;
            type Body = $body;
            const OPERATION: &'static str = $operation;

            fn with_cursor(self, cursor: String) -> Self {
                self.cursor(cursor)
            }

            async fn send_page(
                self,
            ) -> Result<ResponseValue<Self::Body>, progenitor_client::Error<types::Error>> {
                self.send().await
            }

            fn split(body: Self::Body) -> (Vec<Self::Item>, Option<String>) {
                let split: fn(Self::Body) -> (Vec<Self::Item>, Option<String>) = $split;
                split(body)
            }
        }
    };
}

// One `paginated!` line per list operation of the spec (for historical logs, getAppLogs with
// `end`, the body carries the cursor), written by build.rs: a new list in a spec bump pages
// without a hand edit.
include!(concat!(env!("OUT_DIR"), "/paginated.rs"));
