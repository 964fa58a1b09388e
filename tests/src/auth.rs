//! A real auth server started in this process, with typed HTTP helpers.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use auth_server::config::Settings;
use auth_server::startup::Application;
use auth_server::state::{AppState, Clock};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use auth_server::db::users::{self, FlagChanges};
use auth_server::db::{DbConnection, DbError};

use crate::database::TestDatabase;

/// Access and refresh token from a login or refresh response.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub body: Value,
}

/// Options for starting an auth server.
pub struct TestAuthServerBuilder {
    variables: HashMap<String, String>,
    data_dir: Option<Arc<tempfile::TempDir>>,
    database: Option<Arc<TestDatabase>>,
}

impl Default for TestAuthServerBuilder {
    fn default() -> Self {
        TestAuthServerBuilder::new()
    }
}

impl TestAuthServerBuilder {
    /// Defaults for tests: bcrypt cost 4 so hashing takes milliseconds.
    pub fn new() -> TestAuthServerBuilder {
        // Rate limits are off unless a test sets them: most tests log in
        // more often per minute than a person would.
        let variables = [
            ("AUTH_BCRYPT_COST", "4"),
            ("AUTH_RATE_LIMIT_LOGIN_PER_IP", "0"),
            ("AUTH_RATE_LIMIT_LOGIN_PER_ACCOUNT", "0"),
            ("AUTH_RATE_LIMIT_REGISTER_PER_IP", "0"),
            ("AUTH_RATE_LIMIT_REFRESH_PER_IP", "0"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        TestAuthServerBuilder {
            variables,
            data_dir: None,
            database: None,
        }
    }

    /// Sets an `AUTH_*` variable.
    pub fn env(mut self, name: &str, value: &str) -> TestAuthServerBuilder {
        self.variables.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Shares the data dir (keys) and database of another server, as several
    /// auth-server instances behind one load balancer do.
    pub fn sharing_with(mut self, other: &TestAuthServer) -> TestAuthServerBuilder {
        self.data_dir = Some(other.data_dir.clone());
        self.database = Some(other.database.clone());
        self
    }

    /// Uses `database` for the server's database. The server connects to
    /// `database.url` unless `AUTH_DATABASE_URL` is set with [`env`], for
    /// example to reach the database through a proxy.
    ///
    /// [`env`]: TestAuthServerBuilder::env
    pub fn database(mut self, database: Arc<TestDatabase>) -> TestAuthServerBuilder {
        self.database = Some(database);
        self
    }

    /// Starts the server on a free port.
    pub async fn spawn(self) -> TestAuthServer {
        let data_dir = self
            .data_dir
            .unwrap_or_else(|| Arc::new(tempfile::tempdir().expect("create a temporary data dir")));
        let database = self
            .database
            .unwrap_or_else(|| Arc::new(TestDatabase::create(data_dir.path())));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = listener.local_addr().expect("local address").port();

        let mut variables = self.variables;
        variables.insert(
            "AUTH_DATA_DIR".into(),
            data_dir.path().to_string_lossy().into_owned(),
        );
        variables
            .entry("AUTH_DATABASE_URL".into())
            .or_insert_with(|| database.url.clone());
        variables.insert("AUTH_BIND".into(), format!("127.0.0.1:{port}"));
        variables
            .entry("AUTH_ISSUER".into())
            .or_insert_with(|| format!("http://127.0.0.1:{port}"));

        start(variables, listener, data_dir, database, Clock::default()).await
    }
}

async fn start(
    variables: HashMap<String, String>,
    listener: TcpListener,
    data_dir: Arc<tempfile::TempDir>,
    database: Arc<TestDatabase>,
    clock: Clock,
) -> TestAuthServer {
    let settings = Settings::from_map(&variables).expect("valid test settings");
    let port = listener.local_addr().expect("local address").port();
    let application = Application::build_on(settings, listener, clock)
        .await
        .expect("auth server starts");
    let state = application.state().clone();

    let server = application.into_server();
    let handle = server.handle();
    tokio::spawn(server);

    TestAuthServer {
        base_url: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::new(),
        handle,
        state,
        variables,
        data_dir,
        database,
    }
}

/// A running auth server.
pub struct TestAuthServer {
    pub base_url: String,
    pub port: u16,
    pub client: reqwest::Client,
    handle: ServerHandle,
    state: AppState,
    variables: HashMap<String, String>,
    pub data_dir: Arc<tempfile::TempDir>,
    pub database: Arc<TestDatabase>,
}

impl TestAuthServer {
    /// Starts a server with the default test options.
    pub async fn spawn() -> TestAuthServer {
        TestAuthServerBuilder::new().spawn().await
    }

    /// The clock of the server, which a test may move forward.
    pub fn clock(&self) -> &Clock {
        &self.state.clock
    }

    /// The settings the server runs with, for running admin commands on the
    /// same database.
    pub fn settings(&self) -> &Settings {
        &self.state.settings
    }

    /// Creates a superuser through the admin command and logs in as them.
    pub async fn admin_tokens(&self, email: &str) -> Tokens {
        let settings = self.settings().clone();
        let owned_email = email.to_owned();
        tokio::task::spawn_blocking(move || {
            auth_server::commands::users::create_superuser(
                &settings,
                &owned_email,
                secrecy_password("correct horse battery"),
            )
        })
        .await
        .unwrap()
        .expect("create the superuser");
        self.login_tokens(email, "correct horse battery").await
    }

    /// The server's state, for direct database checks.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops the server, finishing requests in flight.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }

    /// Stops the server and starts it again on the same port with the same
    /// settings, data dir and database.
    pub async fn restart(self) -> TestAuthServer {
        self.stop().await;
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("rebind the same port");
        start(
            self.variables,
            listener,
            self.data_dir,
            self.database,
            self.state.clock.clone(),
        )
        .await
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// POSTs a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// GETs a path with an optional bearer token.
    pub async fn get(&self, path: &str, access_token: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = access_token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    /// POSTs `/auth/register`.
    pub async fn register(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/auth/register",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    /// Registers a user and returns the created user, asserting 201.
    pub async fn register_user(&self, email: &str, password: &str) -> Value {
        let response = self.register(email, password).await;
        assert_eq!(response.status(), StatusCode::CREATED, "register {email}");
        response.json().await.expect("user JSON")
    }

    /// POSTs `/auth/login` in body mode.
    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/auth/login",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    /// Logs in and returns the tokens, asserting 200.
    pub async fn login_tokens(&self, email: &str, password: &str) -> Tokens {
        let response = self.login(email, password).await;
        assert_eq!(response.status(), StatusCode::OK, "login {email}");
        tokens_from(response).await
    }

    /// Registers and logs in a new user.
    pub async fn signed_up(&self, email: &str) -> Tokens {
        self.register_user(email, "correct horse battery").await;
        self.login_tokens(email, "correct horse battery").await
    }

    /// POSTs `/auth/refresh` with the token in the body.
    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_json("/auth/refresh", &json!({ "refresh_token": refresh_token }))
            .await
    }

    /// Refreshes and returns the new tokens, asserting 200.
    pub async fn refresh_tokens(&self, refresh_token: &str) -> Tokens {
        let response = self.refresh(refresh_token).await;
        assert_eq!(response.status(), StatusCode::OK, "refresh");
        tokens_from(response).await
    }

    /// POSTs `/auth/logout` with the refresh token in the body.
    pub async fn logout(&self, refresh_token: &str) -> Response {
        self.post_json("/auth/logout", &json!({ "refresh_token": refresh_token }))
            .await
    }

    /// POSTs a form-encoded body, as OAuth endpoints expect.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("request sent")
    }

    /// Runs `work` on a pooled connection to the server's database.
    pub async fn with_db<T, F>(&self, work: F) -> T
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> diesel::QueryResult<T> + Send + 'static,
    {
        self.state
            .db
            .run(move |conn| work(conn).map_err(DbError::from))
            .await
            .expect("database work succeeds")
    }

    /// Sets `is_active` of a user directly in the database, without the
    /// session revocation that the admin API adds, so a test sees what the
    /// refresh endpoint checks on its own.
    pub async fn set_user_active(&self, user_id: i64, active: bool) {
        let changes = FlagChanges {
            is_active: Some(active),
            is_staff: None,
            is_superuser: None,
        };
        let found = self
            .with_db(move |conn| users::set_flags(conn, user_id, &changes))
            .await;
        assert!(found, "user {user_id} exists");
    }
}

/// Reads the tokens of a 200 login or refresh response.
pub async fn tokens_from(response: Response) -> Tokens {
    let body: Value = response.json().await.expect("token JSON");
    Tokens {
        access_token: body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned(),
        refresh_token: body["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body,
    }
}

fn secrecy_password(text: &str) -> secrecy::SecretString {
    secrecy::SecretString::from(text.to_owned())
}
