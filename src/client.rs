//! Building a [`Client`]: token, base URL, user agent, timeouts, or a caller's own `reqwest`
//! client, and the hooks that every generated request passes through.
//!
//! Authentication is added per request (not as a default header), so it also applies to a
//! caller's own `reqwest::Client`, and it is only ever sent to the configured origin.

use std::{fmt, sync::Arc, time::Duration};

use progenitor_client::{ClientHooks, OperationInfo};
use reqwest::header::{HeaderValue, AUTHORIZATION, USER_AGENT};
use tokio::sync::Semaphore;
use url::Url;

use crate::{retry::RetryPolicy, Client, Error};

/// The API's production base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.deno.com/v2";
/// Environment variable holding the access token (`ddo_...`).
pub const TOKEN_ENV: &str = "DENO_DEPLOY_TOKEN";
/// Environment variable that overrides the base URL.
pub const API_URL_ENV: &str = "DENO_DEPLOY_API_URL";
/// Time allowed to open a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for one unary request, from send to the end of its body.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Time a stream may stay silent (no bytes, keep-alives included) before it is given up.
pub const DEFAULT_STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Unary requests one client has in flight at once; more wait their turn. This also bounds
/// the connections they open.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 32;

/// Operations whose response is a stream: they get no whole-request timeout.
const STREAMING_OPERATIONS: [&str; 1] = ["stream_revision_progress"];

/// An access token. Its `Debug` output never shows the value.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Wraps a token string.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token itself, for callers that must hand it on.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn header(&self) -> Result<HeaderValue, Error> {
        let mut value = HeaderValue::try_from(format!("Bearer {}", self.0)).map_err(|_| {
            Error::Config("token: must contain only visible ASCII characters".into())
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Per-client settings that the generated code carries and hands to every request hook.
#[derive(Debug, Clone)]
pub struct ClientState {
    authorization: HeaderValue,
    user_agent: HeaderValue,
    base_url: Url,
    request_timeout: Duration,
    stream_idle_timeout: Duration,
    retry: RetryPolicy,
    in_flight: Arc<Semaphore>,
}

impl ClientState {
    /// The base URL every operation path is appended to.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// How long a stream may stay silent before it ends with an error.
    pub fn stream_idle_timeout(&self) -> Duration {
        self.stream_idle_timeout
    }

    /// How transient failures are retried.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The longest a stream may take to get its headers, retries and their waits included:
    /// a last guard for a caller's own `reqwest` client, which may have no read timeout.
    pub(crate) fn stream_answer_deadline(&self) -> Duration {
        let attempts = self.retry.max_retries.saturating_add(1);
        self.stream_idle_timeout
            .saturating_mul(attempts)
            .saturating_add(self.retry.max_delay.saturating_mul(self.retry.max_retries))
    }

    /// Adds the headers and timeout this client promises to a request it is about to send.
    ///
    /// # Errors
    /// A request aimed at another origin than the base URL's: the token is never sent there.
    pub(crate) fn prepare(
        &self,
        request: &mut reqwest::Request,
        operation: &str,
    ) -> Result<(), Error> {
        if !same_origin(request.url(), &self.base_url) {
            return Err(Error::ForeignOrigin {
                url: redact_query(request.url()),
            });
        }
        request
            .headers_mut()
            .insert(AUTHORIZATION, self.authorization.clone());
        request
            .headers_mut()
            .entry(USER_AGENT)
            .or_insert_with(|| self.user_agent.clone());
        if !is_streaming(operation, request.url()) && request.timeout().is_none() {
            *request.timeout_mut() = Some(self.request_timeout);
        }
        Ok(())
    }
}

// Not yet: per-request overhead at the raw reqwest floor; until then a unary call costs 1.07 to
// 1.14× a hand-written reqwest loop (BENCHMARKS.md): the answer buffered for retries, read twice.
impl ClientHooks<ClientState> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        crate::ext::call::apply_to_request(request, info.operation_id);
        crate::validate::check_request(info.operation_id, request)
            .map_err(|e| progenitor_client::Error::Custom(e.to_string()))?;
        self.inner
            .prepare(request, info.operation_id)
            .map_err(|e| progenitor_client::Error::Custom(e.to_string()))?;
        tracing::debug!(
            operation = info.operation_id,
            method = %request.method(),
            path = request.url().path(),
            "sending request"
        );
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        // Only unary requests take a turn: a stream may stay open for as long as it is read.
        let turns =
            (!is_streaming(info.operation_id, request.url())).then_some(&*self.inner.in_flight);
        let policy = &self.inner.retry;
        crate::retry::execute(&self.client, request, policy, info.operation_id, turns).await
    }

    async fn post<E>(
        &self,
        result: &reqwest::Result<reqwest::Response>,
        info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        match result {
            Ok(response) => {
                crate::ext::call::record_response(response, info.operation_id);
                tracing::debug!(
                    operation = info.operation_id,
                    status = response.status().as_u16(),
                    request_id = crate::error::request_id(response.headers()).as_deref(),
                    "received response"
                )
            }
            Err(error) => tracing::debug!(operation = info.operation_id, %error, "request failed"),
        }
        Ok(())
    }
}

impl Client {
    /// Starts a [`ClientBuilder`] with the defaults: production base URL, no token.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Builds a client from `DENO_DEPLOY_TOKEN` and, when set, `DENO_DEPLOY_API_URL`.
    ///
    /// # Errors
    /// [`Error::Config`] when the token is missing or empty, or the URL is invalid.
    pub fn from_env() -> Result<Self, Error> {
        ClientBuilder::from_env()?.build()
    }

    /// The settings this client was built with.
    pub fn state(&self) -> &ClientState {
        &self.inner
    }
}

/// Configures and builds a [`Client`]. Setters consume and return the builder.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    token: Option<Token>,
    base_url: String,
    user_agent: String,
    connect_timeout: Duration,
    request_timeout: Duration,
    stream_idle_timeout: Duration,
    allow_insecure_http: bool,
    http_client: Option<reqwest::Client>,
    retry: RetryPolicy,
    max_concurrent_requests: usize,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            token: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            user_agent: concat!("deno-deploy/", env!("CARGO_PKG_VERSION")).to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            stream_idle_timeout: DEFAULT_STREAM_IDLE_TIMEOUT,
            allow_insecure_http: false,
            http_client: None,
            retry: RetryPolicy::default(),
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
        }
    }
}

impl ClientBuilder {
    /// A builder with the token and base URL read from the environment.
    ///
    /// # Errors
    /// [`Error::Config`] when `DENO_DEPLOY_TOKEN` is unset or empty.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_vars(
            std::env::var(TOKEN_ENV).ok(),
            std::env::var(API_URL_ENV).ok(),
        )
    }

    /// [`Self::from_env`] with the two variables' values given.
    fn from_vars(token: Option<String>, url: Option<String>) -> Result<Self, Error> {
        let token = match token {
            Some(token) if !token.trim().is_empty() => token,
            missing => {
                let state = if missing.is_some() {
                    "empty"
                } else {
                    "not set"
                };
                return Err(Error::Config(format!(
                    "{TOKEN_ENV} is {state}: create an access token in the Deno Deploy \
                     dashboard and export it"
                )));
            }
        };
        let mut builder = Self::default().token(token);
        if let Some(url) = url.filter(|url| !url.trim().is_empty()) {
            builder = builder.base_url(url);
        }
        Ok(builder)
    }

    /// The access token sent as `Authorization: Bearer ...`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(Token::new(token));
        self
    }

    /// The API base URL, such as `https://api.deno.com/v2` or an emulator's URL.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The `User-Agent` header; the default is `deno-deploy/<version>`.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Time allowed to open a connection (ignored with [`Self::http_client`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for one unary request; streams are not subject to it.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Time a stream may stay silent before it ends with an error.
    pub fn stream_idle_timeout(mut self, timeout: Duration) -> Self {
        self.stream_idle_timeout = timeout;
        self
    }

    /// Accepts an `http://` base URL whose host is not loopback. Plain HTTP exposes the token.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Retries after the first attempt for transient failures (default 2; 0 switches them off).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.retry.max_retries = retries;
        self
    }

    /// The whole retry policy: count, first backoff step and longest wait.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Unary requests in flight at once (default [`DEFAULT_MAX_CONCURRENT_REQUESTS`]; at least
    /// 1); further calls wait for a turn. Streams do not count.
    pub fn max_concurrent_requests(mut self, limit: usize) -> Self {
        self.max_concurrent_requests = limit.clamp(1, Semaphore::MAX_PERMITS);
        self
    }

    /// Uses the caller's own `reqwest::Client` (its own pool, proxy and TLS settings).
    ///
    /// The token, user agent and per-request timeout still apply; a whole-request timeout set
    /// on that client would also cut streams off. Give it a `read_timeout` (the built-in
    /// client uses the larger of the stream idle and request timeouts) so that a server that
    /// never answers fails each attempt rather than only the whole call.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::Config`] for a missing, empty or blank token, a base URL that does not parse,
    /// is not `https` (or `http` on loopback) or carries a user name or password, or a user
    /// agent that is not a valid header value.
    pub fn build(self) -> Result<Client, Error> {
        let token = self
            .token
            .ok_or_else(|| Error::Config(format!("token: missing (set it or {TOKEN_ENV})")))?;
        if token.expose().trim().is_empty() {
            return Err(Error::Config(format!(
                "token: empty (set an access token, or {TOKEN_ENV})"
            )));
        }
        let base_url = parse_base_url(&self.base_url, self.allow_insecure_http)?;
        let user_agent = HeaderValue::try_from(self.user_agent)
            .map_err(|_| Error::Config("user_agent: must be a valid header value".into()))?;

        let http = match self.http_client {
            Some(client) => client,
            // The read timeout bounds each wait for bytes, the response's headers included, so
            // a server that stalls fails that attempt and the retry policy takes over. It never
            // cuts a unary request short of its own request timeout.
            None => {
                ensure_tls_provider()?;
                reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout)
                    .read_timeout(self.stream_idle_timeout.max(self.request_timeout))
                    // A redirect elsewhere gets neither the token (reqwest drops it for another
                    // host or port) nor, through `Referer`, the API URL it came from.
                    .referer(false)
                    .build()
                    .map_err(|e| Error::Config(format!("http client: {e}")))?
            }
        };
        let state = ClientState {
            authorization: token.header()?,
            user_agent,
            base_url: base_url.clone(),
            request_timeout: self.request_timeout,
            stream_idle_timeout: self.stream_idle_timeout,
            retry: self.retry,
            in_flight: Arc::new(Semaphore::new(self.max_concurrent_requests)),
        };
        let base = base_url.as_str().trim_end_matches('/');
        Ok(Client::new_with_client(base, http, state))
    }
}

/// Gives rustls a process-wide crypto provider if it has none, as the TLS features choose:
/// ring by default (`tls-ring`); with `tls-aws-lc`, nothing is installed and reqwest falls back
/// to aws-lc-rs. [`ClientBuilder::build`] calls it; call it yourself first if your program
/// builds `reqwest` clients of its own before any `deno-deploy` client, since reqwest without a
/// TLS feature of its own then finds no provider and panics.
///
/// # Errors
/// [`Error::Config`] when neither TLS feature is enabled and no provider is installed.
pub fn install_tls_provider() -> Result<(), Error> {
    ensure_tls_provider()
}

fn ensure_tls_provider() -> Result<(), Error> {
    if cfg!(feature = "tls-aws-lc") || rustls::crypto::CryptoProvider::get_default().is_some() {
        return Ok(());
    }
    #[cfg(feature = "tls-ring")]
    {
        // An error means another thread installed a provider first, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(())
    }
    #[cfg(not(feature = "tls-ring"))]
    Err(Error::Config(
        "no TLS crypto provider: enable the `tls-ring` or `tls-aws-lc` feature, or install a \
         rustls CryptoProvider before building the client"
            .into(),
    ))
}

fn parse_base_url(raw: &str, allow_insecure_http: bool) -> Result<Url, Error> {
    let shown = without_userinfo(raw);
    let url = Url::parse(raw.trim())
        .map_err(|e| Error::Config(format!("base_url: {shown:?} is not a URL: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(
            "base_url: must not carry a user name or password (the token authenticates)".into(),
        ));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback || allow_insecure_http => {}
        "http" => {
            return Err(Error::Config(format!(
                "base_url: plain http is only allowed for loopback hosts, not {:?} \
                 (use https, or allow_insecure_http(true))",
                url.host_str().unwrap_or_default()
            )))
        }
        other => {
            return Err(Error::Config(format!(
                "base_url: scheme must be https, not {other:?}"
            )))
        }
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(Error::Config(format!("base_url: {shown:?} has no host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(
            "base_url: must not carry a query or a fragment".into(),
        ));
    }
    Ok(url)
}

/// `raw` with any `user:password@` before the host left out, for messages about a URL that
/// may not even parse.
fn without_userinfo(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => raw.to_owned(),
    }
}

/// Whether a request of `operation` to `url` answers with a stream (progress, or logs followed
/// live because no `end` is given) rather than one body.
fn is_streaming(operation: &str, url: &Url) -> bool {
    STREAMING_OPERATIONS.contains(&operation)
        || (operation == "get_app_logs" && !url.query_pairs().any(|(k, _)| k == "end"))
}

/// Whether `url` has `base`'s origin (scheme, host and port), as [`Url::origin`] would say for
/// the http(s) base URLs a client accepts, without allocating one per request.
pub(crate) fn same_origin(url: &Url, base: &Url) -> bool {
    url.scheme() == base.scheme()
        && matches!(url.scheme(), "http" | "https")
        && url.host() == base.host()
        && url.port_or_known_default() == base.port_or_known_default()
}

/// A URL for messages: the query is dropped, since it may carry cursors or filters.
fn redact_query(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClientInfo;

    #[test]
    fn a_missing_token_is_a_clear_error() {
        let err = Client::builder().build().unwrap_err();
        assert!(err.to_string().contains("token: missing"), "{err}");
    }

    #[test]
    fn an_empty_or_blank_token_is_a_clear_error() {
        for token in ["", "   ", "\t\n"] {
            let err = Client::builder().token(token).build().unwrap_err();
            assert_eq!(
                err.to_string(),
                "configuration: token: empty (set an access token, or DENO_DEPLOY_TOKEN)",
                "{token:?}"
            );
        }
    }

    #[test]
    fn an_empty_or_blank_token_in_the_environment_is_a_clear_error() {
        let message = |token: Option<&str>| {
            ClientBuilder::from_vars(token.map(str::to_owned), None)
                .unwrap_err()
                .to_string()
        };
        let expected = |state: &str| {
            format!(
                "configuration: DENO_DEPLOY_TOKEN is {state}: create an access token in the \
                 Deno Deploy dashboard and export it"
            )
        };
        assert_eq!(message(Some("")), expected("empty"));
        assert_eq!(message(Some("  \t")), expected("empty"));
        assert_eq!(message(None), expected("not set"));
        let builder = ClientBuilder::from_vars(Some("ddo_x".into()), Some(" ".into())).unwrap();
        assert_eq!(builder.base_url, DEFAULT_BASE_URL);
    }

    #[test]
    fn a_base_url_with_a_user_name_or_password_is_refused_without_echoing_it() {
        for url in [
            "http://user:pass-Wq4@127.0.0.1:1/v2",
            "https://user@api.example.invalid/v2",
            "https://:pass-Wq4@api.example.invalid/v2",
        ] {
            let err = Client::builder()
                .token("ddo_x")
                .base_url(url)
                .build()
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "configuration: base_url: must not carry a user name or password (the token \
                 authenticates)",
                "{url}"
            );
        }
        // One that does not parse is echoed without its user name and password.
        let err = Client::builder()
            .token("ddo_x")
            .base_url("https://user:pass-Wq4@[bad/v2")
            .build()
            .unwrap_err();
        assert!(!err.to_string().contains("pass-Wq4"), "{err}");
        assert!(err.to_string().contains("https://[bad/v2"), "{err}");
    }

    #[test]
    fn plain_http_is_refused_unless_the_host_is_loopback() {
        let err = Client::builder()
            .token("ddo_x")
            .base_url("http://example.invalid/v2")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
        for ok in [
            "http://127.0.0.1:9/v2",
            "http://localhost:9/v2",
            "http://[::1]:9/v2",
        ] {
            assert!(
                Client::builder()
                    .token("ddo_x")
                    .base_url(ok)
                    .build()
                    .is_ok(),
                "{ok}"
            );
        }
        let allowed = Client::builder()
            .token("ddo_x")
            .base_url("http://example.invalid/v2")
            .allow_insecure_http(true)
            .build();
        assert!(allowed.is_ok());
    }

    #[test]
    fn the_base_url_keeps_its_path_without_a_trailing_slash() {
        let client = Client::builder()
            .token("ddo_x")
            .base_url("https://api.example.invalid/v2/")
            .build()
            .unwrap();
        assert_eq!(client.baseurl(), "https://api.example.invalid/v2");
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let client = Client::builder()
            .token("ddo_secret_value_123")
            .build()
            .unwrap();
        let builder = Client::builder().token("ddo_secret_value_123");
        for text in [
            format!("{client:?}"),
            format!("{:?}", client.state()),
            format!("{builder:?}"),
        ] {
            assert!(!text.contains("secret_value"), "{text}");
        }
    }

    #[test]
    fn authorization_is_marked_sensitive_and_only_sent_to_the_base_origin() {
        let client = Client::builder()
            .token("ddo_x")
            .base_url("https://api.example.invalid/v2")
            .build()
            .unwrap();
        let state = client.state();
        let mut same = reqwest::Request::new(
            reqwest::Method::GET,
            "https://api.example.invalid/v2/apps".parse().unwrap(),
        );
        state.prepare(&mut same, "list_apps").unwrap();
        let auth = same.headers().get(AUTHORIZATION).unwrap();
        assert!(auth.is_sensitive());
        assert_eq!(auth, "Bearer ddo_x");
        assert_eq!(same.timeout(), Some(&DEFAULT_REQUEST_TIMEOUT));

        let mut other = reqwest::Request::new(
            reqwest::Method::GET,
            "https://elsewhere.example.invalid/v2/apps?cursor=abc"
                .parse()
                .unwrap(),
        );
        let err = state.prepare(&mut other, "list_apps").unwrap_err();
        assert!(other.headers().get(AUTHORIZATION).is_none());
        assert!(!err.to_string().contains("cursor=abc"), "{err}");
    }

    #[test]
    fn streams_get_no_whole_request_timeout() {
        let client = Client::builder().token("ddo_x").build().unwrap();
        let url = "https://api.deno.com/v2/revisions/r/progress"
            .parse()
            .unwrap();
        let mut progress = reqwest::Request::new(reqwest::Method::GET, url);
        client
            .state()
            .prepare(&mut progress, "stream_revision_progress")
            .unwrap();
        assert_eq!(progress.timeout(), None);

        let live = "https://api.deno.com/v2/apps/a/logs?start=2026-01-01T00:00:00Z";
        let mut logs = reqwest::Request::new(reqwest::Method::GET, live.parse().unwrap());
        client.state().prepare(&mut logs, "get_app_logs").unwrap();
        assert_eq!(logs.timeout(), None);
    }
}
