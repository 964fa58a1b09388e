//! Building the application: the JWKS client, the authenticator, the app
//! data and the HTTP server bound to its listener.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use auth_shared::jwks::{JwksClient, JwksConfig};
use auth_shared::{Authenticator, Verifier, VerifierConfig};

use crate::config::Settings;
use crate::error::{json_error, path_error, route_not_found};
use crate::items::ItemStore;
use crate::metrics::Metrics;
use crate::routes;

/// Largest JSON request body accepted, in bytes.
const MAX_JSON_BODY_BYTES: usize = 16 * 1024;

/// A resource server bound to its port and ready to run.
pub struct Application {
    port: u16,
    server: Server,
    authenticator: web::Data<Authenticator>,
}

impl Application {
    /// Starts the JWKS client and binds the listener. Must be called inside
    /// a Tokio or actix runtime, which runs the JWKS refresh.
    ///
    /// Returns at once: keys load in the background, and `/readyz` returns
    /// 503 until they do.
    pub async fn build(settings: Settings) -> std::io::Result<Application> {
        let jwks = start_jwks_client(&settings)?;
        let metrics = Arc::new(Metrics::new(jwks.clone()));
        let verifier = Verifier::new(
            VerifierConfig::new(&settings.issuer, &settings.audience).with_leeway(settings.leeway),
        );
        let authenticator =
            web::Data::new(Authenticator::new(verifier, jwks).with_observer(metrics.observer()));
        let metrics = web::Data::from(metrics);
        let items = web::Data::new(ItemStore::new());

        let listener = TcpListener::bind(settings.bind)?;
        let port = listener.local_addr()?.port();

        let app_authenticator = authenticator.clone();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(auth_shared::telemetry::request_logger())
                .app_data(app_authenticator.clone())
                .app_data(items.clone())
                .app_data(metrics.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(MAX_JSON_BODY_BYTES)
                        .error_handler(json_error),
                )
                .app_data(web::PathConfig::default().error_handler(path_error))
                .configure(routes::configure)
                .default_service(web::to(route_not_found))
        })
        .listen(listener)?
        .run();

        Ok(Application {
            port,
            server,
            authenticator,
        })
    }

    /// Returns the bound port, useful when the settings asked for port 0.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns the authenticator, to check JWKS readiness from tests.
    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }

    /// Returns a handle that stops the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped by a signal or through [`Application::handle`].
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn start_jwks_client(settings: &Settings) -> std::io::Result<JwksClient> {
    let mut jwks_config = match &settings.jwks_url {
        Some(url) => JwksConfig::from_url(url),
        None => JwksConfig::from_issuer(&settings.issuer),
    };
    jwks_config.min_ttl = settings.jwks_min_ttl;
    jwks_config.max_ttl = settings.jwks_max_ttl;
    jwks_config.refetch_cooldown = settings.jwks_refetch_cooldown;

    JwksClient::start(jwks_config).map_err(std::io::Error::other)
}
