//! Answers outside any one operation: bearer auth, unknown routes and wrong methods.
//!
//! Each is the spec's `Error` JSON with the status the brief and the spec call for.

use deno_deploy_emulator::EmulatorConfig;
use reqwest::Method;
use serde_json::json;

use crate::support::{Api, Reply};

#[tokio::test]
async fn a_request_without_a_bearer_token_is_a_401() {
    let api = Api::start();
    let reply = Reply::read(api.http.get(api.url("/apps")).send().await.unwrap()).await;
    assert_eq!(reply.header("www-authenticate"), "Bearer");
    let message = reply.error(401, "unauthorized");
    assert!(message.contains("Authorization"), "{message}");
    let basic = api
        .send(
            api.http
                .get(api.url("/apps"))
                .basic_auth("user", Some("pw")),
        )
        .await;
    basic.error(401, "unauthorized");
}

#[tokio::test]
async fn without_a_configured_token_any_ddo_token_is_accepted() {
    let api = Api::start();
    for token in ["ddo_anything", "ddo_123"] {
        let reply = api
            .send(api.http.get(api.url("/apps")).bearer_auth(token))
            .await;
        assert_eq!(reply.list("AppListItem").len(), 0);
    }
    for token in ["xyz", "ddo_", "DDO_upper"] {
        let reply = api
            .send(api.http.get(api.url("/apps")).bearer_auth(token))
            .await;
        let message = reply.error(401, "unauthorized");
        assert!(message.contains("ddo_"), "{message}");
    }
    let lowercase_scheme = api
        .send(
            api.http
                .get(api.url("/apps"))
                .header("authorization", "bearer ddo_x"),
        )
        .await;
    assert_eq!(lowercase_scheme.status, 200);
}

#[tokio::test]
async fn with_a_configured_token_only_that_token_is_accepted() {
    let api = Api::with(EmulatorConfig::default().token("ddo_the_one"));
    assert_eq!(api.emulator.token(), "ddo_the_one");
    api.get("/apps").await.list("AppListItem");
    let reply = api
        .send(api.http.get(api.url("/apps")).bearer_auth("ddo_another"))
        .await;
    assert_eq!(
        reply.error(401, "unauthorized"),
        "the bearer token is not valid"
    );
}

#[tokio::test]
async fn an_unknown_route_is_a_404_error() {
    let api = Api::start();
    for path in [
        "/v2/projects",
        "/v2/apps/x/unknown",
        "/v1/apps",
        "/",
        "/v2/apps/",
    ] {
        let url = format!("http://{}{path}", api.emulator.addr());
        let reply = api.send(api.http.get(url).bearer_auth("ddo_x")).await;
        let message = reply.error(404, "not_found");
        assert_eq!(message, format!("no route for GET {path}"));
    }
}

#[tokio::test]
async fn a_wrong_method_on_a_known_route_is_a_405_with_allow() {
    let api = Api::start();
    let cases = [
        (Method::PUT, "/apps", "GET, HEAD, POST"),
        (Method::POST, "/apps/some-app", "GET, HEAD, PATCH, DELETE"),
        (Method::GET, "/apps/some-app/deploy", "POST"),
        (Method::DELETE, "/revisions/r/cancel", "POST"),
        (Method::POST, "/revisions/r/progress", "GET, HEAD"),
    ];
    for (method, path, allow) in cases {
        let reply = api.send(api.request(method.clone(), path)).await;
        assert_eq!(reply.header("allow"), allow, "{method} {path}");
        let message = reply.error(405, "method_not_allowed");
        assert_eq!(
            message,
            format!("method {method} is not allowed on /v2{path}; allowed: {allow}")
        );
    }
}

#[tokio::test]
async fn routing_comes_before_auth_so_a_wrong_method_is_a_405_without_a_token() {
    let api = Api::start();
    let reply = api.send(api.http.put(api.url("/apps"))).await;
    assert_eq!(reply.header("allow"), "GET, HEAD, POST");
    reply.error(405, "method_not_allowed");
    let reply = api.send(api.http.get(api.url("/nowhere"))).await;
    reply.error(404, "not_found");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_400_even_with_another_content_type() {
    let api = Api::start();
    let reply = api
        .send(
            api.request(Method::POST, "/apps")
                .header("content-type", "text/plain")
                .body("slug=abc"),
        )
        .await;
    reply.error(400, "invalid_json");
    let created = api
        .send(
            api.request(Method::POST, "/apps")
                .header("content-type", "text/plain")
                .body(json!({"slug": "plain-text"}).to_string()),
        )
        .await
        .ok(200, "App");
    assert_eq!(created["slug"], "plain-text");
}
