//! A real resource server started in this process, trusting an auth server.

use std::time::Duration;

use actix_web::dev::ServerHandle;
use reqwest::Response;
use resource_server::config::Settings;
use resource_server::startup::Application;

/// A running resource server.
pub struct TestResourceServer {
    pub base_url: String,
    pub client: reqwest::Client,
    handle: ServerHandle,
    authenticator: auth_shared::Authenticator,
}

impl TestResourceServer {
    /// Starts a resource server that trusts `issuer` and waits until it has
    /// loaded the issuer's keys.
    pub async fn spawn(issuer: &str) -> TestResourceServer {
        let server = TestResourceServer::spawn_with(Settings::for_issuer(issuer, "api")).await;
        server.wait_until_ready().await;
        server
    }

    /// Starts a resource server with `settings`, without waiting for keys.
    pub async fn spawn_with(settings: Settings) -> TestResourceServer {
        let application = Application::build(settings)
            .await
            .expect("resource server starts");
        let port = application.port();
        let handle = application.handle();
        let authenticator = application.authenticator().clone();
        tokio::spawn(application.run_until_stopped());

        TestResourceServer {
            base_url: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            handle,
            authenticator,
        }
    }

    /// Waits up to ten seconds for the first JWKS fetch to succeed.
    pub async fn wait_until_ready(&self) {
        for _ in 0..200 {
            let ready = self
                .client
                .get(format!("{}/readyz", self.base_url))
                .send()
                .await;
            if ready.is_ok_and(|response| response.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the resource server did not load keys within ten seconds");
    }

    /// How many times the resource server has fetched the JWKS.
    pub fn jwks_fetches(&self) -> u64 {
        self.authenticator.jwks().fetch_count()
    }

    /// GETs a path with an optional bearer token.
    pub async fn get(&self, path: &str, access_token: Option<&str>) -> Response {
        let mut request = self.client.get(format!("{}{path}", self.base_url));
        if let Some(token) = access_token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    /// Stops the server.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}
