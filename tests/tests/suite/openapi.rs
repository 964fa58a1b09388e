//! Each server's `/openapi.json` documents exactly the routes that its
//! `routes/mod.rs` registers, and every documented operation reaches a
//! handler on the running server.
//!
//! The registered routes are read from the source of `routes::configure`, so
//! a route added there without a `#[utoipa::path]` attribute (or without its
//! entry in `openapi.rs`) fails these tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use integration_tests::{TestAuthServer, TestResourceServer};
use reqwest::{Method, StatusCode};
use serde_json::Value;

const AUTH_ROUTES_SOURCE: &str = include_str!("../../../auth-server/src/routes/mod.rs");
const RESOURCE_ROUTES_SOURCE: &str = include_str!("../../../resource-server/src/routes/mod.rs");

/// The HTTP methods that an OpenAPI path item may contain, in lower case.
const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// A route as `(METHOD, path)`, with the method in upper case and path
/// parameters written `{name}`, as both actix-web and OpenAPI write them.
type Route = (String, String);

/// Returns the body of `pub fn configure` with all whitespace removed, so
/// that a registration split over several lines reads as one.
fn configure_body(source: &str) -> String {
    let start = source
        .find("pub fn configure(")
        .expect("routes/mod.rs defines `pub fn configure`");
    let length = source[start..]
        .find("\n}\n")
        .expect("`configure` ends with a `}` line");
    source[start..start + length]
        .chars()
        .filter(|character| !character.is_whitespace())
        .collect()
}

/// Returns the text between the first `"` pair at the start of `text`.
fn leading_string_literal(text: &str) -> &str {
    let rest = text
        .strip_prefix('"')
        .expect("a route path is a string literal");
    let end = rest.find('"').expect("the path literal is closed");
    &rest[..end]
}

/// Parses the auth server's `.route("/path", web::get().to(handler))` lines.
fn auth_server_routes(source: &str) -> BTreeSet<Route> {
    let body = configure_body(source);
    assert!(
        !body.contains(".service("),
        "auth-server routes/mod.rs registers a service; teach this test to parse it"
    );

    let registrations: Vec<&str> = body.split(".route(").skip(1).collect();
    let mut routes = BTreeSet::new();
    for registration in &registrations {
        let path = leading_string_literal(registration);
        let after_path = &registration[path.len() + 2..];
        let method = after_path
            .strip_prefix(",web::")
            .and_then(|rest| rest.split_once("()"))
            .map(|(method, _)| method)
            .unwrap_or_else(|| panic!("cannot read the method of route {path}: {registration}"));
        assert!(
            HTTP_METHODS.contains(&method),
            "route {path} has the unknown method {method}"
        );
        routes.insert((method.to_uppercase(), path.to_owned()));
    }

    assert_eq!(
        routes.len(),
        registrations.len(),
        "a (method, path) pair is registered twice"
    );
    routes
}

/// Parses the resource server's
/// `.service(web::resource("/path").get(handler).post(handler)…)` blocks.
fn resource_server_routes(source: &str) -> BTreeSet<Route> {
    let body = configure_body(source);
    let resources: Vec<&str> = body.split("web::resource(").skip(1).collect();
    assert_eq!(
        body.matches(".service(").count(),
        resources.len(),
        "resource-server routes/mod.rs registers a service that is not a web::resource"
    );

    let mut routes = BTreeSet::new();
    for resource in resources {
        let path = leading_string_literal(resource);
        let methods: Vec<&str> = HTTP_METHODS
            .into_iter()
            .filter(|method| resource.contains(&format!(".{method}(")))
            .collect();
        assert!(!methods.is_empty(), "resource {path} has no method handler");
        for method in methods {
            routes.insert((method.to_uppercase(), path.to_owned()));
        }
    }
    routes
}

/// Returns every `(METHOD, path)` operation of an OpenAPI document.
fn documented_routes(document: &Value) -> BTreeSet<Route> {
    let paths = document["paths"].as_object().expect("paths is an object");
    let mut routes = BTreeSet::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is an object");
        for method in item.keys() {
            assert!(
                HTTP_METHODS.contains(&method.as_str()),
                "path {path} has {method}, which is not an HTTP method"
            );
            routes.insert((method.to_uppercase(), path.clone()));
        }
    }
    routes
}

/// Returns every operation object of the document with its route.
fn operations(document: &Value) -> Vec<(Route, &Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            found.push(((method.to_uppercase(), path.clone()), operation));
        }
    }
    found
}

/// Collects every `$ref` value anywhere in `value`.
fn collect_refs<'a>(value: &'a Value, refs: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => refs.push(target),
                    _ => collect_refs(child, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, refs)),
        _ => {}
    }
}

/// Fetches `/openapi.json` and checks the parts every document must have.
async fn fetch_document(client: &reqwest::Client, base_url: &str) -> Value {
    let response = client
        .get(format!("{base_url}/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type}"
    );
    let document: Value = response.json().await.unwrap();

    let version = document["openapi"].as_str().expect("openapi is a string");
    assert!(version.starts_with("3."), "OpenAPI version {version}");
    assert!(
        document["info"]["title"].is_string(),
        "info.title is missing"
    );
    assert!(
        document["info"]["version"].is_string(),
        "info.version is missing"
    );
    assert!(document["paths"].is_object(), "paths is missing");
    document
}

/// Checks operation ids, references, security requirements and the error
/// schema of a document.
fn check_document_consistency(document: &Value) {
    let operations = operations(document);

    let mut operation_ids = BTreeSet::new();
    for (route, operation) in &operations {
        let id = operation["operationId"].as_str().unwrap_or_else(|| {
            panic!("{route:?} has no operationId");
        });
        assert!(
            operation_ids.insert(id),
            "operationId {id} is used twice, again by {route:?}"
        );
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{route:?} documents no success response"
        );
        assert!(
            operation["tags"]
                .as_array()
                .is_some_and(|tags| !tags.is_empty()),
            "{route:?} has no tag"
        );
    }

    let schemas = &document["components"]["schemas"];
    let mut refs = Vec::new();
    collect_refs(document, &mut refs);
    for target in refs {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {target}"));
        assert!(schemas[name].is_object(), "$ref {target} has no schema");
    }

    let error_body = &schemas["ErrorBody"];
    assert_eq!(
        error_body["required"],
        serde_json::json!(["error", "error_description"])
    );
    assert!(error_body["properties"]["fields"].is_object());

    let bearer = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");
    assert_eq!(bearer["bearerFormat"], "JWT");
    for (route, operation) in &operations {
        for requirement in operation["security"].as_array().into_iter().flatten() {
            let names: Vec<&String> = requirement.as_object().unwrap().keys().collect();
            assert_eq!(
                names,
                ["bearer"],
                "{route:?} names an unknown security scheme"
            );
        }
    }
}

/// Asserts that the documented and the registered routes are the same set,
/// naming the difference in each direction.
fn assert_same_routes(documented: &BTreeSet<Route>, registered: &BTreeSet<Route>) {
    let undocumented: Vec<&Route> = registered.difference(documented).collect();
    assert!(
        undocumented.is_empty(),
        "registered but not in /openapi.json: {undocumented:?}"
    );
    let unregistered: Vec<&Route> = documented.difference(registered).collect();
    assert!(
        unregistered.is_empty(),
        "in /openapi.json but not registered: {unregistered:?}"
    );
}

/// Status and body of a request that matches no route on the server.
async fn unknown_route_response(client: &reqwest::Client, base_url: &str) -> (StatusCode, String) {
    let response = client
        .get(format!("{base_url}/openapi-test/no-such-route"))
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert_eq!(status, StatusCode::NOT_FOUND);
    (status, response.text().await.unwrap())
}

/// Sends each documented operation without credentials or body, with every
/// path parameter set to `1`, and asserts that a handler responded: neither
/// the server's unknown-route response nor 405.
async fn assert_routes_reach_handlers(
    client: &reqwest::Client,
    base_url: &str,
    routes: &BTreeSet<Route>,
) {
    let unknown = unknown_route_response(client, base_url).await;

    for (method, path) in routes {
        let concrete_path = path.replace("{id}", "1");
        assert!(
            !concrete_path.contains('{'),
            "{path} has a path parameter this test does not fill in"
        );
        let response = client
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{base_url}{concrete_path}"),
            )
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();

        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {body}"
        );
        assert_ne!(
            (status, body.clone()),
            unknown,
            "{method} {path} matches no route"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_server_document_matches_routes() {
    let auth = TestAuthServer::spawn().await;
    let registered = auth_server_routes(AUTH_ROUTES_SOURCE);
    assert!(
        registered.contains(&(
            "GET".to_owned(),
            "/.well-known/openid-configuration".to_owned()
        )),
        "the parser missed a route registered over several lines: {registered:?}"
    );

    let document = fetch_document(&auth.client, &auth.base_url).await;
    let documented = documented_routes(&document);

    assert_same_routes(&documented, &registered);
    check_document_consistency(&document);
    assert_routes_reach_handlers(&auth.client, &auth.base_url, &documented).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_server_document_matches_routes() {
    let auth = TestAuthServer::spawn().await;
    let resource = TestResourceServer::spawn(&auth.base_url).await;
    let registered = resource_server_routes(RESOURCE_ROUTES_SOURCE);
    assert!(
        registered.contains(&("DELETE".to_owned(), "/api/items/{id}".to_owned())),
        "the parser missed a second method of a resource: {registered:?}"
    );

    let document = fetch_document(&resource.client, &resource.base_url).await;
    let documented = documented_routes(&document);

    assert_same_routes(&documented, &registered);
    check_document_consistency(&document);
    assert_routes_reach_handlers(&resource.client, &resource.base_url, &documented).await;
}

#[test]
fn route_parsers_read_sample_registrations() {
    let auth_source = r#"
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/a", web::get().to(a::get))
        .route(
            "/b/{id}",
            web::delete().to(b::delete),
        );
}
"#;
    let resource_source = r#"
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/c")
                .get(c::list)
                .post(c::create)
                .default_service(method_not_allowed("GET, POST")),
        );
}
"#;
    let route = |method: &str, path: &str| (method.to_owned(), path.to_owned());

    assert_eq!(
        auth_server_routes(auth_source),
        BTreeSet::from([route("GET", "/a"), route("DELETE", "/b/{id}")])
    );
    assert_eq!(
        resource_server_routes(resource_source),
        BTreeSet::from([route("GET", "/c"), route("POST", "/c")])
    );
}
