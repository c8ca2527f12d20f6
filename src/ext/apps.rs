//! The label filter of listApps, which the generator cannot express (a `deepObject` query).
//!
//! `client.list_apps().label("env", "prod")` turns the generated builder into
//! [`ListAppsByLabels`], which sends `labels[env]=prod` in a stable (sorted) order, percent-encoded,
//! and pages like any other list.

use std::collections::BTreeMap;

use futures::stream::BoxStream;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use progenitor_client::ResponseValue;

use super::{
    call::CallContext,
    pagination::{Pages, Paginated},
};
use crate::{builder, types, Error};

/// Everything but RFC 3986's unreserved characters is encoded in label keys and values.
const LABEL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A listApps request with a label filter: only apps carrying every given label match.
#[derive(Debug, Clone)]
pub struct ListAppsByLabels<'a> {
    request: builder::ListApps<'a>,
    labels: BTreeMap<String, String>,
}

impl<'a> builder::ListApps<'a> {
    /// Keeps only apps whose label `key` equals `value` (several calls: all must match).
    pub fn label(self, key: impl Into<String>, value: impl Into<String>) -> ListAppsByLabels<'a> {
        ListAppsByLabels {
            request: self,
            labels: BTreeMap::new(),
        }
        .label(key, value)
    }

    /// Keeps only apps carrying every one of `labels`.
    pub fn labels<K, V>(self, labels: impl IntoIterator<Item = (K, V)>) -> ListAppsByLabels<'a>
    where
        K: Into<String>,
        V: Into<String>,
    {
        ListAppsByLabels {
            request: self,
            labels: BTreeMap::new(),
        }
        .labels(labels)
    }
}

impl<'a> ListAppsByLabels<'a> {
    /// Adds one more label that must match.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Adds several labels that must all match.
    pub fn labels<K, V>(mut self, labels: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.labels
            .extend(labels.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Maximum number of apps per page (1 to 100).
    pub fn limit<V>(mut self, value: V) -> Self
    where
        V: TryInto<std::num::NonZeroU64>,
    {
        self.request = self.request.limit(value);
        self
    }

    /// Keeps only apps that use this layer (id or slug).
    pub fn layer<V>(mut self, value: V) -> Self
    where
        V: TryInto<String>,
    {
        self.request = self.request.layer(value);
        self
    }

    /// Starts at the page this cursor points to.
    pub fn cursor<V>(mut self, value: V) -> Self
    where
        V: TryInto<String>,
    {
        self.request = self.request.cursor(value);
        self
    }

    /// Sends the request for one page.
    ///
    /// # Errors
    /// As the generated `send()`: the API's error, or a transport failure.
    pub async fn send(
        self,
    ) -> Result<ResponseValue<Vec<types::AppListItem>>, progenitor_client::Error<types::Error>>
    {
        let context = CallContext {
            operation: <Self as Paginated>::OPERATION,
            extra_query: self.extra_query(),
            ..CallContext::default()
        };
        context.scope(self.request.send()).await.0
    }

    /// Walks the pages (see [`Paginated::pages`]).
    pub fn pages(self) -> Pages<'a, Self> {
        Paginated::pages(self)
    }

    /// Every matching app of every page, in order.
    pub fn stream(self) -> BoxStream<'a, Result<types::AppListItem, Error>> {
        Paginated::stream(self)
    }
}

impl<'a> Paginated for ListAppsByLabels<'a> {
    type Item = types::AppListItem;
    type Body = Vec<types::AppListItem>;
    const OPERATION: &'static str = "list_apps";

    fn with_cursor(self, cursor: String) -> Self {
        self.cursor(cursor)
    }

    fn extra_query(&self) -> Vec<String> {
        self.labels
            .iter()
            .map(|(key, value)| {
                format!(
                    "labels[{}]={}",
                    utf8_percent_encode(key, LABEL_ENCODE),
                    utf8_percent_encode(value, LABEL_ENCODE)
                )
            })
            .collect()
    }

    async fn send_page(
        self,
    ) -> Result<ResponseValue<Self::Body>, progenitor_client::Error<types::Error>> {
        // The walk already runs this inside a context carrying `extra_query`.
        self.request.send().await
    }

    fn split(body: Self::Body) -> (Vec<Self::Item>, Option<String>) {
        (body, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Client;

    #[test]
    fn labels_are_sorted_and_percent_encoded() {
        let client = Client::builder().token("ddo_x").build().unwrap();
        let request = client
            .list_apps()
            .label("team", "a&b c")
            .label("env", "prod")
            .label("ü", "[x]");
        assert_eq!(
            request.extra_query(),
            [
                "labels[env]=prod",
                "labels[team]=a%26b%20c",
                "labels[%C3%BC]=%5Bx%5D"
            ]
        );
    }
}
