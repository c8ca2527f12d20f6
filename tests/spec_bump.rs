//! A spec bump builds with no hand edit: built against `tests/fixtures/bumped-spec.yml` (a new
//! list operation, a new optional field, a new enum value), the new operation pages with
//! `.stream()` and the hand-written layer works unchanged. Only that build compiles these tests:
//! `DENO_DEPLOY_SPEC=tests/fixtures/bumped-spec.yml cargo test --test spec_bump` (see .ci/run).

#![cfg(deno_deploy_spec = "bumped-spec")]

mod support;

use deno_deploy::{ext::Paginated, types};
use futures::TryStreamExt;
use support::{within, Reply, Server};

#[tokio::test]
async fn the_new_list_operation_is_callable_and_pages_with_stream() {
    let first = r#"[{"id":"l1","slug":"base"},{"id":"l2","slug":"secrets"}]"#;
    let second = r#"[{"id":"l3","slug":"edge","description":"edge settings"}]"#;
    let server = Server::start([
        Reply::json(200, first).header("link", r#"</v2/layers?limit=2&cursor=p2>; rel="next""#),
        Reply::json(200, second),
    ])
    .await;
    let client = server.client();

    // The whole walk over the new operation, with no code written for it.
    let layers: Vec<types::Layer> =
        within(10, client.list_layers().limit(2).stream().try_collect())
            .await
            .unwrap();

    let slugs: Vec<&str> = layers.iter().map(|l| l.slug.as_str()).collect();
    assert_eq!(slugs, ["base", "secrets", "edge"]);
    assert_eq!(layers[2].description.as_deref(), Some("edge settings"));
    let seen = server.seen();
    assert_eq!(seen[0].target, "/v2/layers?limit=2");
    assert_eq!(seen[1].target, "/v2/layers?cursor=p2&limit=2");
    assert_eq!(seen[0].header("api-version"), Some("2.1"));
}

#[tokio::test]
async fn the_new_optional_field_is_read_when_present_and_absent() {
    let server = Server::start([
        Reply::json(200, r#"{"id":"a1","slug":"shop","description":"the shop"}"#),
        Reply::json(200, r#"{"id":"a1","slug":"shop"}"#),
    ])
    .await;
    let client = server.client();

    let with = within(10, client.get_app().app("shop").send())
        .await
        .unwrap();
    let without = within(10, client.get_app().app("shop").send())
        .await
        .unwrap();

    assert_eq!(with.description.as_deref(), Some("the shop"));
    assert_eq!(without.description, None);
}

#[tokio::test]
async fn the_new_enum_value_is_a_known_variant_in_answers_and_requests() {
    let server = Server::start([
        Reply::json(200, r#"[{"id":"r1","status":"archived"}]"#),
        Reply::json(200, r#"{"id":"r1","status":"archived"}"#),
    ])
    .await;
    let client = server.client();

    // The validator reads the bumped spec too, so the new filter value is sent.
    let listed = within(
        10,
        client
            .list_revisions()
            .app("shop")
            .status(types::ListRevisionsStatus::Archived)
            .send(),
    )
    .await
    .unwrap();
    let revision = within(10, client.get_revision().revision("r1").send())
        .await
        .unwrap();

    assert_eq!(listed[0].status, types::RevisionListItemStatus::Archived);
    assert_eq!(revision.status, types::RevisionStatus::Archived);
    assert_eq!(
        server.seen()[0].target,
        "/v2/apps/shop/revisions?status=archived"
    );
}

#[tokio::test]
async fn the_hand_written_layer_works_on_the_bumped_build() {
    let progress = concat!(
        "data: {\"building\":{\"status\":\"running\"}}\n\n",
        "data: {\"deploying\":{\"status\":\"succeeded\"}}\n\n",
    );
    let server = Server::start([
        Reply::json(200, r#"[{"id":"a1","slug":"shop"}]"#),
        Reply::new(200)
            .header("content-type", "text/event-stream")
            .chunk(progress),
        Reply::json(200, r#"{"id":"r1","status":"succeeded"}"#),
    ])
    .await;
    let client = server.client();

    // The label filter, which the generator cannot express, still pages.
    let apps: Vec<types::AppListItem> = within(
        10,
        client
            .list_apps()
            .label("env", "prod")
            .stream()
            .try_collect(),
    )
    .await
    .unwrap();
    // Waiting follows the progress stream, then confirms with getRevision.
    let revision = within(10, client.wait_for_revision("r1").send())
        .await
        .unwrap();

    assert_eq!(apps[0].slug, "shop");
    assert_eq!(revision.status, types::RevisionStatus::Succeeded);
    let seen = server.seen();
    assert_eq!(seen[0].target, "/v2/apps?labels[env]=prod");
    assert_eq!(seen[1].target, "/v2/revisions/r1/progress");
    assert_eq!(
        deno_deploy::spec::REMOVED_PARAMETERS.len(),
        1,
        "still only the label filter is supplied by hand"
    );
}
