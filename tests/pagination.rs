//! Pagination against a scripted server: `Link` headers as RFC 8288 writes them, cursors that
//! repeat, links to other origins, page caps, label filters and historical logs.

mod support;

use deno_deploy::{
    ext::{pagination::next_cursor_from_links, Paginated},
    types, Error,
};
use futures::{StreamExt, TryStreamExt};
use reqwest::header::{HeaderMap, HeaderValue, LINK};
use support::{within, Reply, Server};

fn app(n: u32) -> String {
    format!(r#"{{"id":"00000000-0000-4000-8000-{n:012}","slug":"app-{n}"}}"#)
}

fn page(range: std::ops::Range<u32>) -> String {
    format!("[{}]", range.map(app).collect::<Vec<_>>().join(","))
}

fn links(values: &[&str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for value in values {
        headers.append(LINK, HeaderValue::from_str(value).unwrap());
    }
    headers
}

const FIRST: &str = r#"<https://api.deno.com/v2/apps?limit=2>; rel="first""#;
const NEXT: &str = r#"<https://api.deno.com/v2/apps?limit=2&cursor=Y3Vy&tag=a,b>; title="page 2, sorted"; rel="next last""#;

#[test]
fn the_next_cursor_is_read_from_two_link_header_fields() {
    let base = "https://api.deno.com/v2/apps?limit=2".parse().unwrap();
    let cursor = next_cursor_from_links(&links(&[FIRST, NEXT]), Some(&base)).unwrap();
    assert_eq!(cursor.as_deref(), Some("Y3Vy"));
}

#[test]
fn the_next_cursor_is_read_from_two_links_joined_in_one_field() {
    let base = "https://api.deno.com/v2/apps?limit=2".parse().unwrap();
    let joined = format!("{FIRST}, {NEXT}");
    let cursor = next_cursor_from_links(&links(&[&joined]), Some(&base)).unwrap();
    assert_eq!(cursor.as_deref(), Some("Y3Vy"));
}

#[test]
fn a_relative_next_link_resolves_against_the_request_url() {
    let base = "https://api.deno.com/v2/apps?limit=2".parse().unwrap();
    let cursor = next_cursor_from_links(&links(&[r#"<?cursor=b%2Fc>; rel=next"#]), Some(&base));
    assert_eq!(cursor.unwrap().as_deref(), Some("b/c"));
    let other = next_cursor_from_links(
        &links(&[r#"<https://evil.example.invalid/v2/apps?cursor=x>; rel="next""#]),
        Some(&base),
    );
    assert!(
        matches!(other, Err(Error::ForeignOrigin { .. })),
        "{other:?}"
    );
}

#[tokio::test]
async fn stream_walks_every_page_in_order_exactly_once() {
    // A next link to another port is another origin.
    let foreign = r#"<http://127.0.0.1:1/v2/apps?limit=2&cursor=p2>; rel="next""#;
    let server = Server::start([Reply::json(200, &page(0..2)).header("link", foreign)]).await;
    let client = server.client();
    let result: Result<Vec<types::AppListItem>, Error> =
        within(10, client.list_apps().limit(2).stream().try_collect()).await;
    // The first link points at another origin (port 1): refused, and nothing sent there.
    assert!(
        matches!(result, Err(Error::ForeignOrigin { .. })),
        "{result:?}"
    );
    assert_eq!(server.seen().len(), 1);

    let server = Server::start(vec![
        Reply::json(200, &page(0..2)).header("link", r#"<apps?limit=2&cursor=p2>; rel="next""#),
        Reply::json(200, &page(2..4)).header("link", r#"</v2/apps?limit=2&cursor=p3>; rel="next""#),
        Reply::json(200, &page(4..5)),
    ])
    .await;
    let client = server.client();
    let apps: Vec<types::AppListItem> =
        within(10, client.list_apps().limit(2).stream().try_collect())
            .await
            .unwrap();
    let slugs: Vec<String> = apps.iter().map(|a| a.slug.to_string()).collect();
    assert_eq!(slugs, ["app-0", "app-1", "app-2", "app-3", "app-4"]);
    let targets: Vec<String> = server.seen().iter().map(|s| s.target.clone()).collect();
    assert_eq!(
        targets,
        [
            "/v2/apps?limit=2",
            "/v2/apps?cursor=p2&limit=2",
            "/v2/apps?cursor=p3&limit=2"
        ]
    );
}

#[tokio::test]
async fn a_repeated_cursor_is_an_error_not_an_endless_loop() {
    let looping =
        || Reply::json(200, &page(0..1)).header("link", r#"</v2/apps?cursor=same>; rel="next""#);
    let server = Server::start([looping(), looping(), looping()]).await;
    let client = server.client();
    let items: Vec<_> = within(10, client.list_apps().stream().collect()).await;
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(items[0].is_ok() && items[1].is_ok());
    assert!(
        matches!(&items[2], Err(Error::Pagination(m)) if m.contains("repeated cursor")),
        "{items:?}"
    );
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn pages_can_be_capped_and_resumed_from_a_saved_cursor() {
    let server = Server::start([
        Reply::json(200, &page(0..2)).header("link", r#"</v2/apps?cursor=p2>; rel="next""#),
        Reply::json(200, &page(2..3)).header("link", r#"</v2/apps?cursor=p3>; rel="next""#),
    ])
    .await;
    let client = server.client();
    let pages: Vec<_> = within(
        10,
        client
            .list_apps()
            .pages()
            .max_pages(1)
            .try_collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].items.len(), 2);
    let saved = pages[0].next_cursor.clone().unwrap();
    assert_eq!(saved, "p2");

    let resumed: Vec<_> = within(
        10,
        client
            .list_apps()
            .cursor(saved)
            .pages()
            .max_pages(1)
            .try_collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    assert_eq!(resumed[0].items[0].slug.to_string(), "app-2");
    assert_eq!(resumed[0].next_cursor.as_deref(), Some("p3"));
    assert_eq!(server.seen()[1].target, "/v2/apps?cursor=p2");
}

#[tokio::test]
async fn the_label_filter_is_sent_sorted_and_percent_encoded_on_every_page() {
    let server = Server::start([
        Reply::json(200, &page(0..1)).header(
            "link",
            r#"</v2/apps?cursor=p2&labels%5Benv%5D=prod>; rel="next""#,
        ),
        Reply::json(200, &page(1..2)),
    ])
    .await;
    let client = server.client();
    let apps: Vec<_> = within(
        10,
        client
            .list_apps()
            .label("team", "a b")
            .label("env", "prod")
            .limit(1)
            .stream()
            .try_collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    assert_eq!(apps.len(), 2);
    let targets: Vec<String> = server.seen().iter().map(|s| s.target.clone()).collect();
    assert_eq!(
        targets,
        [
            "/v2/apps?limit=1&labels[env]=prod&labels[team]=a%20b",
            "/v2/apps?cursor=p2&limit=1&labels[env]=prod&labels[team]=a%20b",
        ]
    );
}

#[tokio::test]
async fn historical_logs_page_by_the_body_cursor() {
    let server = Server::start([
        Reply::json(
            200,
            r#"{"logs":[{"message":"1"},{"message":"2"}],"cursor":"c2"}"#,
        ),
        Reply::json(200, r#"{"logs":[{"message":"3"}]}"#),
    ])
    .await;
    let client = server.client();
    let start: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let end: chrono::DateTime<chrono::Utc> = "2026-01-02T00:00:00Z".parse().unwrap();
    let logs: Vec<_> = within(
        10,
        client
            .get_app_logs()
            .app("a")
            .start(start)
            .end(end)
            .stream()
            .try_collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    let messages: Vec<_> = logs.into_iter().map(|l| l.message.unwrap()).collect();
    assert_eq!(messages, ["1", "2", "3"]);
    assert!(server.seen()[1].target.contains("cursor=c2"));
}

#[tokio::test]
async fn an_invalid_limit_fails_before_any_request_is_sent() {
    let server = Server::start([]).await;
    let client = server.client();
    let result = client
        .list_apps()
        .limit(101u64)
        .send()
        .await
        .map_err(Error::from);
    match result {
        Err(Error::InvalidInput { field, rule }) => {
            assert_eq!(field, "limit");
            assert_eq!(rule, "must be at most 100 (found 101)");
        }
        other => panic!("{other:?}"),
    }
    let paged: Result<Vec<_>, _> = client
        .list_revisions()
        .app("a")
        .limit(0u64)
        .pages()
        .try_collect()
        .await;
    match paged {
        Err(Error::InvalidInput { field, rule }) => {
            assert_eq!(field, "limit");
            assert_eq!(rule, "must be at least 1");
        }
        other => panic!("{other:?}"),
    }
    assert!(server.seen().is_empty());
}
