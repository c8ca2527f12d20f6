//! The handle a test holds: start an emulator, talk to it, and stop it by dropping it.
//!
//! The server runs on its own thread with its own Tokio runtime, so starting and stopping are
//! plain synchronous calls that work from sync tests, any async runtime, and examples alike.

use std::future::IntoFuture as _;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::serve::ListenerExt as _;
use tokio::sync::oneshot;

use crate::fault::{Fault, FaultRule, FaultTarget};
use crate::logs::{LogEntry, LogLevel};
use crate::operation::Operation;
use crate::server;
use crate::store::{Settings, Shared, REGIONS};

/// The token [`Emulator::token`] hands out when none is configured.
const DEFAULT_TOKEN: &str = "ddo_emulator_token";

/// How an [`Emulator`] is set up. Start from [`EmulatorConfig::default`] and change what
/// matters.
///
/// ```
/// use deno_deploy_emulator::{Emulator, EmulatorConfig, Fault, Operation};
/// use std::time::Duration;
///
/// let emulator = Emulator::start_with(
///     EmulatorConfig::default()
///         .token("ddo_secret")
///         .build_delay(Duration::from_millis(5))
///         .keepalive(Duration::from_secs(1))
///         .fault(Operation::GetApp, Fault::status(503).times(2)),
/// )
/// .unwrap();
/// assert_eq!(emulator.token(), "ddo_secret");
/// assert_eq!(emulator.request_count(), 0);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EmulatorConfig {
    /// The address to listen on; the default `127.0.0.1:0` picks a free port.
    pub listen: SocketAddr,
    /// The only bearer token accepted (not empty, no whitespace); `None` accepts any token that
    /// starts with `ddo_`.
    pub token: Option<String>,
    /// How long each build stage takes (default 20 ms).
    pub build_delay: Duration,
    /// How often an idle stream sends a keep-alive (default 5 s; at least 1 ms).
    pub keepalive: Duration,
    /// Faults in force from the start.
    pub faults: Vec<FaultRule>,
    /// The base URL clients reach the API at, when that is not this emulator's own address
    /// (behind a proxy): next-page links point there. `None` takes the request's `Host`. It
    /// must be an absolute `http(s)` URL without query or fragment.
    pub public_url: Option<String>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: None,
            build_delay: Duration::from_millis(20),
            keepalive: Duration::from_secs(5),
            faults: Vec::new(),
            public_url: None,
        }
    }
}

impl EmulatorConfig {
    /// Listen on this address.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Accept only this bearer token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Make each build stage take this long.
    pub fn build_delay(mut self, delay: Duration) -> Self {
        self.build_delay = delay;
        self
    }

    /// Send keep-alives on idle streams this often.
    pub fn keepalive(mut self, every: Duration) -> Self {
        self.keepalive = every;
        self
    }

    /// Advertise this base URL (such as a proxy's, `http://127.0.0.1:4010`) in next-page links
    /// instead of the address the request was sent to.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// Start with this fault in force (a status fault's status must be 400–599).
    pub fn fault(mut self, target: impl Into<FaultTarget>, fault: Fault) -> Self {
        self.faults.push(FaultRule {
            target: target.into(),
            fault,
        });
        self
    }
}

impl EmulatorConfig {
    /// Checks that every setting can work: `keepalive` of at least 1 ms, a `token` that is not
    /// empty and has no whitespace or control characters, a `public_url` that is an absolute
    /// `http(s)` URL without query or fragment, and fault statuses in 400–599.
    /// [`Emulator::start_with`] runs it first.
    ///
    /// # Errors
    ///
    /// An [`io::Error`] of kind [`io::ErrorKind::InvalidInput`] naming the setting and the rule.
    pub fn validate(&self) -> io::Result<()> {
        let invalid = |message: String| Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        if self.keepalive < MIN_KEEPALIVE {
            return invalid(format!(
                "keepalive must be at least 1 ms, not {:?}: idle streams would send keep-alives in a tight loop",
                self.keepalive
            ));
        }
        if let Some(token) = &self.token {
            if let Some(rule) = token_rule(token) {
                return invalid(format!("token {rule}"));
            }
        }
        if let Some(url) = &self.public_url {
            if let Some(rule) = public_url_rule(url) {
                return invalid(format!("public_url `{url}` {rule}"));
            }
        }
        for rule in &self.faults {
            if let Some(status) = rule.fault.invalid_status() {
                return invalid(format!(
                    "fault on {}: status must be an error status from 400 to 599, not {status}",
                    rule.target
                ));
            }
        }
        Ok(())
    }
}

/// The shortest keep-alive interval: shorter would send keep-alives in a tight loop.
const MIN_KEEPALIVE: Duration = Duration::from_millis(1);

/// What is wrong with a token, if anything: it travels as `Authorization: Bearer <token>`.
fn token_rule(token: &str) -> Option<&'static str> {
    if token.is_empty() {
        Some("must not be empty: no request could authenticate")
    } else if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("must not contain whitespace or control characters: it must fit a bearer header")
    } else {
        None
    }
}

/// What is wrong with a public URL, if anything: next-page links are built on it.
fn public_url_rule(url: &str) -> Option<&'static str> {
    const RULE: &str = "must be an absolute http:// or https:// URL without query or fragment";
    if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some(RULE);
    }
    let Ok(uri) = axum::http::Uri::try_from(url) else {
        return Some(RULE);
    };
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let host_ok = uri.host().is_some_and(|h| !h.is_empty());
    if scheme_ok && host_ok {
        None
    } else {
        Some(RULE)
    }
}

/// An error of the library API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// No app has this id or slug.
    #[error("app `{0}` not found")]
    AppNotFound(String),
}

/// A running emulator of the Deno Deploy API v2. It stops when dropped.
///
/// ```
/// let emulator = deno_deploy_emulator::Emulator::start().unwrap();
/// assert!(emulator.base_url().starts_with("http://127.0.0.1:"));
/// assert!(emulator.base_url().ends_with("/v2"));
/// ```
#[derive(Debug)]
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    base_url: String,
    token: String,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Starts an emulator with the default config on `127.0.0.1` and a free port.
    pub fn start() -> io::Result<Emulator> {
        Emulator::start_with(EmulatorConfig::default())
    }

    /// Starts an emulator; it is listening when this returns.
    ///
    /// # Errors
    ///
    /// A setting that cannot work ([`EmulatorConfig::validate`], kind
    /// [`io::ErrorKind::InvalidInput`]), or the address cannot be bound.
    pub fn start_with(config: EmulatorConfig) -> io::Result<Emulator> {
        config.validate()?;
        let listener = TcpListener::bind(config.listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let origin = format!("http://{addr}");
        let settings = Settings {
            token: config.token.clone(),
            build_delay: config.build_delay,
            keepalive: config.keepalive,
            public_url: config.public_url.clone(),
            origin: origin.clone(),
        };
        let shared = Arc::new(Shared::new(settings, config.faults));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let (shutdown, stopped) = oneshot::channel::<()>();
        let router = server::router(shared.clone());
        let counter = shared.clone();
        let listener = listener.tap_io(move |_| counter.count_connection());
        let thread = std::thread::Builder::new()
            .name(format!("deno-deploy-emulator {addr}"))
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::select! {
                        _ = axum::serve(listener, router).into_future() => {}
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime ends every connection, stream and build.
                drop(runtime);
            })?;
        Ok(Emulator {
            shared,
            addr,
            base_url: format!("{origin}/v2"),
            token: config.token.unwrap_or_else(|| DEFAULT_TOKEN.to_owned()),
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The API's base URL, `http://127.0.0.1:PORT/v2`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A bearer token it accepts: the configured one, or else `ddo_emulator_token`.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// How many requests it has received, whatever their route or outcome.
    pub fn request_count(&self) -> u64 {
        self.shared.request_count()
    }

    /// How many TCP connections it has accepted, each kept-alive connection counted once.
    pub fn connection_count(&self) -> u64 {
        self.shared.connection_count()
    }

    /// How many requests of one operation it has received.
    pub fn operation_count(&self, operation: Operation) -> u64 {
        self.shared.operation_count(operation)
    }

    /// Appends `count` info entries (`GET /page/N 200`) to an app's runtime logs, from its
    /// running revision, cycling through the regions.
    pub fn emit_logs(&self, app: &str, count: usize) -> Result<(), EmulatorError> {
        {
            let mut store = self.shared.store();
            let index = store
                .app_index(app)
                .ok_or_else(|| EmulatorError::AppNotFound(app.to_owned()))?;
            let app_id = store.apps[index].id;
            let revision = store.running_revision(&store.apps[index]);
            for n in 0..count {
                store.push_log(
                    app_id,
                    LogLevel::Info,
                    format!("GET /page/{n} 200"),
                    Some(REGIONS[n % REGIONS.len()].to_owned()),
                    revision.clone(),
                );
            }
        }
        self.shared.notify();
        Ok(())
    }

    /// Appends one entry to an app's runtime logs.
    pub fn push_log(&self, app: &str, entry: LogEntry) -> Result<(), EmulatorError> {
        {
            let mut store = self.shared.store();
            let index = store
                .app_index(app)
                .ok_or_else(|| EmulatorError::AppNotFound(app.to_owned()))?;
            let app_id = store.apps[index].id;
            let revision = entry
                .revision_id
                .or_else(|| store.running_revision(&store.apps[index]));
            let region = entry.region.unwrap_or_else(|| REGIONS[0].to_owned());
            store.push_log(app_id, entry.level, entry.message, Some(region), revision);
        }
        self.shared.notify();
        Ok(())
    }

    /// Puts a fault in force; faults apply in the order they were added. A status fault whose
    /// status is outside 400–599 (which [`Emulator::start_with`] refuses) answers 500.
    pub fn inject(&self, target: impl Into<FaultTarget>, fault: Fault) {
        let rule = FaultRule {
            target: target.into(),
            fault,
        };
        self.shared
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(rule);
    }

    /// Removes every fault still in force.
    pub fn clear_faults(&self) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Stops it now; the same as dropping it.
    pub fn stop(self) {}
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
