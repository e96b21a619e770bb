//! The HTTP server: routes, the catch-all, request logging, and the [`Emulator`] handle.
//!
//! Every v0 route is mounted at `/api/...` and `/api/v0/...` (TH4 mounts the v0 router twice,
//! `TheHiveRouter.scala`); the Cortex connector only at `/api/connector/cortex/...`. Unmatched
//! paths and methods get TheHive's catch-all 404 (SG `ScalligraphRouter.scala`).

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use axum::Router;
use axum::extract::{OriginalUri, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, get, post, put};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::config::{EmulatorConfig, Profile, Role};
use super::cortex_link::{CortexLink, Server, ServerStatus};
use super::error::{ApiError, EmulatorError};
use super::request::Call;
use super::store::{AuthContext, Millis, Store};
use super::th5_shape::{CORTEX4_VERSION, THEHIVE5_VERSION};
use super::{case, cortex, org_config, remote, session, th5_api, th5_cortex, th5_query};

/// Last Cortex connector check: when, and each server's status.
type StatusCache = Option<(Millis, Vec<ServerStatus>)>;

/// Shared state of the handlers.
#[derive(Clone)]
pub(crate) struct App {
    store: Arc<Mutex<Store>>,
    /// Role `thehive`: the HTTP client to the Cortex servers, replaced whole when the
    /// configuration changes (handlers keep the link they started with).
    link: Option<Arc<RwLock<Arc<CortexLink>>>>,
    status: Arc<Mutex<StatusCache>>,
}

impl App {
    /// Locks the store; a poisoned lock is taken over since the state stays consistent per
    /// request.
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks the store, advances its jobs and notifications to `now` and authenticates the
    /// caller: how nearly every TheHive handler begins.
    pub fn enter(
        &self,
        call: &Call,
        now: Millis,
    ) -> Result<(MutexGuard<'_, Store>, AuthContext), ApiError> {
        let mut store = self.lock();
        store.advance(now);
        let ctx = call.auth(&store)?;
        Ok((store, ctx))
    }

    /// Role `thehive`: the Cortex client.
    pub fn link(&self) -> Option<Arc<CortexLink>> {
        self.link
            .as_ref()
            .map(|link| Arc::clone(&link.read().unwrap_or_else(|e| e.into_inner())))
    }

    /// Role `thehive`: replaces the Cortex servers (`PUT /api/v1/admin/config/cortex`) and
    /// forgets the last connector check, which was about the old ones. `false` in the combined
    /// role, whose servers are built in.
    pub fn set_cortex_servers(&self, servers: Vec<Server>) -> bool {
        let Some(link) = &self.link else {
            return false;
        };
        let mut current = link.write().unwrap_or_else(|e| e.into_inner());
        *current = Arc::new(current.with_servers(servers));
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = None;
        true
    }

    /// Role `thehive`: starts due notifications and polls remote jobs before a read; a no-op
    /// in the combined role, whose jobs advance inside the store.
    pub async fn sync(&self) {
        if let Some(link) = self.link() {
            remote::sync(self, &link).await;
        }
    }

    /// The last connector check, if any.
    pub fn cached_status(&self) -> StatusCache {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stores a connector check.
    pub fn set_cached_status(&self, at: Millis, statuses: Vec<ServerStatus>) {
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = Some((at, statuses));
    }
}

/// The router of an emulator configured by `config`, for in-process tests.
pub fn router(config: EmulatorConfig) -> Router {
    if config.role == Role::Cortex {
        return without_allow_header(
            super::cortex_api::router(config).layer(middleware::from_fn(log_request)),
        );
    }
    let prefix = config.context_path.trim_end_matches('/').to_owned();
    let profile = config.profile;
    let link = (config.role == Role::TheHive).then(|| {
        Arc::new(RwLock::new(Arc::new(CortexLink::new(
            &config.cortex_urls,
            config.cortex_key.clone(),
        ))))
    });
    let remote_cortex = link.is_some();
    let app = App {
        store: Arc::new(Mutex::new(Store::new(config))),
        link,
        status: Arc::new(Mutex::new(None)),
    };

    let routes = match profile {
        Profile::TheHive4 => thehive4_routes(&prefix),
        Profile::TheHive5 => thehive5_routes(&prefix, remote_cortex),
    };
    without_allow_header(
        routes
            .fallback(not_found)
            .method_not_allowed_fallback(not_found)
            .layer(middleware::from_fn(log_request))
            .with_state(app),
    )
}

/// Removes the `Allow` header axum's method router adds when a known path is called with
/// another method: TheHive's catch-all and Cortex's router send none (SG
/// `ScalligraphRouter.scala`). The method router adds it outside any layer of its own
/// router, so the whole router is wrapped as the fallback of an outer one.
fn without_allow_header(router: Router) -> Router {
    async fn drop_allow(mut response: Response) -> Response {
        response.headers_mut().remove(axum::http::header::ALLOW);
        response
    }
    Router::new()
        .fallback_service(router)
        .layer(middleware::map_response(drop_allow))
}

/// Routes of TheHive 4.1.24: the v0 API, its v1 twins and the Cortex connector.
fn thehive4_routes(prefix: &str) -> Router<App> {
    let v0: Vec<(&str, MethodRouter<App>)> = vec![
        ("/login", post(session::login)),
        ("/logout", get(session::logout).post(session::logout)),
        ("/user/current", get(session::current)),
        ("/status", get(session::status)),
        ("/health", get(session::health)),
        ("/case", post(case::create)),
        ("/case/_search", post(case::search)),
        ("/case/{id}", get(case::get).delete(case::delete)),
        ("/case/{id}/artifact", post(case::create_observable)),
        ("/case/artifact/_search", post(case::search_observables)),
        (
            "/case/artifact/{id}",
            get(case::get_observable).delete(case::delete_observable),
        ),
        (
            "/config/organisation/{path}",
            get(org_config::get).put(org_config::set),
        ),
    ];
    let mut routes = Router::new();
    for (path, method_router) in v0 {
        routes = routes
            .route(&format!("{prefix}/api{path}"), method_router.clone())
            .route(&format!("{prefix}/api/v0{path}"), method_router);
    }
    let v1 = format!("{prefix}/api/v1");
    let connector = format!("{prefix}/api/connector/cortex");
    let routes = routes
        .route(&format!("{v1}/login"), post(session::login_v1))
        .route(
            &format!("{v1}/logout"),
            get(session::logout).post(session::logout),
        )
        .route(&format!("{v1}/user/current"), get(session::current_v1))
        .route(&format!("{v1}/status"), get(session::status_v1))
        .route(&format!("{v1}/query"), post(cortex::v1_query))
        .route(&format!("{v1}/case"), post(case::create_v1))
        .route(
            &format!("{v1}/case/{{id}}"),
            get(case::get_v1).delete(case::delete),
        )
        .route(
            &format!("{v1}/case/{{id}}/observable"),
            post(case::create_observable_v1),
        )
        .route(
            &format!("{v1}/observable/{{id}}"),
            get(case::get_observable_v1).delete(case::delete_observable),
        );
    analyzer_routes(routes, &connector)
        .route(&format!("{connector}/job"), post(cortex::create_job))
        .route(
            &format!("{connector}/job/_search"),
            post(cortex::search_jobs),
        )
        .route(&format!("{connector}/job/{{id}}"), get(cortex::get_job))
}

/// The connector's analyzer routes under `connector`, the same in both profiles.
fn analyzer_routes(routes: Router<App>, connector: &str) -> Router<App> {
    routes
        .route(
            &format!("{connector}/analyzer"),
            get(cortex::list_analyzers),
        )
        .route(
            &format!("{connector}/analyzer/type/{{dataType}}"),
            get(cortex::analyzers_by_type),
        )
        .route(
            &format!("{connector}/analyzer/{{id}}"),
            get(cortex::get_analyzer),
        )
}

/// Routes of TheHive 5.7: the v1 API of the OpenAPI, with the Cortex connector under both
/// `/api/v1/connector/cortex` and the legacy `/api/connector/cortex` (which TheHive4py 2.x
/// calls), plus the legacy `/api/status`, `/api/organisation` and organisation config paths
/// (reference §1: legacy paths still answered on 5.5–5.7). With `remote_cortex` (the
/// `thehive` role), `PUT /api/v1/admin/config/cortex` sets the Cortex servers.
fn thehive5_routes(prefix: &str, remote_cortex: bool) -> Router<App> {
    let v1 = format!("{prefix}/api/v1");
    let mut routes = Router::new()
        .route(&format!("{prefix}/api/status"), get(th5_api::status_legacy))
        .route(
            &format!("{prefix}/api/organisation"),
            post(th5_api::create_organisation),
        )
        .route(
            &format!("{prefix}/api/config/organisation/{{path}}"),
            get(org_config::get).put(org_config::set),
        )
        .route(&format!("{v1}/login"), post(th5_api::login))
        .route(
            &format!("{v1}/logout"),
            get(session::logout).post(session::logout),
        )
        .route(&format!("{v1}/user"), post(th5_api::create_user))
        .route(&format!("{v1}/user/current"), get(th5_api::current_user))
        .route(
            &format!("{v1}/user/{{id}}/organisations"),
            put(th5_api::set_user_organisations),
        )
        .route(
            &format!("{v1}/user/{{id}}/key/renew"),
            post(th5_api::renew_key),
        )
        .route(
            &format!("{v1}/organisation"),
            post(th5_api::create_organisation),
        )
        .route(
            &format!("{v1}/license/current"),
            get(th5_api::licence_current),
        )
        .route(&format!("{v1}/status"), get(th5_api::status))
        .route(&format!("{v1}/status/public"), get(th5_api::status_public))
        .route(&format!("{v1}/query"), post(th5_query::query))
        .route(&format!("{v1}/case"), post(case::create_th5))
        .route(
            &format!("{v1}/case/{{id}}"),
            get(case::get_th5).delete(case::delete),
        )
        .route(
            &format!("{v1}/case/{{id}}/observable"),
            post(case::create_observable_th5),
        )
        .route(
            &format!("{v1}/observable/{{id}}"),
            get(case::get_observable_th5).delete(case::delete_observable),
        )
        .route(
            &format!("{v1}/connector/cortex/job/_bulk"),
            post(th5_cortex::create_jobs_bulk),
        );
    if remote_cortex {
        routes = routes.route(
            &format!("{v1}/admin/config/cortex"),
            put(th5_api::set_cortex_config),
        );
    }
    for connector in [
        format!("{v1}/connector/cortex"),
        format!("{prefix}/api/connector/cortex"),
    ] {
        routes = analyzer_routes(routes, &connector)
            .route(&format!("{connector}/job"), post(th5_cortex::create_job))
            .route(&format!("{connector}/job/{{id}}"), get(th5_cortex::get_job));
    }
    routes
}

/// Catch-all: 404 `NotFoundError` with the request path, authenticated or not.
async fn not_found(State(_): State<App>, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(uri.path())
}

async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    tracing::debug!(
        target: "emulator",
        %method,
        %path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

/// A running emulator.
#[derive(Debug)]
pub struct Emulator {
    config: EmulatorConfig,
    base_url: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), std::io::Error>>,
}

impl Emulator {
    /// Binds `config.bind` and serves in the background.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        let (listener, base_url) = bind(&config).await?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(config.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(target: "emulator", %base_url, "emulator started");
        Ok(Emulator {
            config,
            base_url,
            stop,
            task,
        })
    }

    /// `http://HOST:PORT` followed by the context path.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The configuration, to read users, keys and the organisation.
    pub fn config(&self) -> &EmulatorConfig {
        &self.config
    }

    /// Stops serving and waits for the server task.
    pub async fn shutdown(self) {
        // The receiver is gone only if the server already stopped, which is the goal anyway.
        let _ = self.stop.send(());
        if let Ok(Err(e)) = self.task.await {
            tracing::warn!(target: "emulator", error = %e, "emulator stopped with an error");
        }
    }
}

/// Binds `config.bind`; returns the listener and the base URL (`http://HOST:PORT` followed by
/// the context path).
async fn bind(config: &EmulatorConfig) -> Result<(TcpListener, String), EmulatorError> {
    let bind_error = |source| EmulatorError::Bind {
        addr: config.bind,
        source,
    };
    let listener = TcpListener::bind(config.bind).await.map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    let base_url = format!("http://{addr}{}", config.context_path.trim_end_matches('/'));
    Ok((listener, base_url))
}

/// Serves until Ctrl-C or SIGTERM, after printing a start banner.
pub async fn serve(config: EmulatorConfig) -> Result<(), EmulatorError> {
    let (listener, url) = bind(&config).await?;
    print_banner(&config, &url);
    axum::serve(listener, router(config))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(EmulatorError::Serve)
}

fn print_banner(config: &EmulatorConfig, url: &str) {
    let versions = match config.profile {
        Profile::TheHive4 => "TheHive 4.1.24".to_owned(),
        Profile::TheHive5 => format!("TheHive {THEHIVE5_VERSION}"),
    };
    let cortex_version = match config.profile {
        Profile::TheHive4 => "Cortex 3.1.8".to_owned(),
        Profile::TheHive5 => format!("Cortex {CORTEX4_VERSION}"),
    };
    let mut lines = match config.role {
        Role::Cortex => vec![
            format!("hivecheck emulator: Cortex 3.1.8 API listening on {url}"),
            "  empty until bootstrapped: POST /api/maintenance/migrate, then POST /api/user"
                .to_owned(),
            format!(
                "  basic authentication: {}",
                if config.cortex_basic_auth {
                    "enabled"
                } else {
                    "disabled (--cortex-basic-auth enables it)"
                }
            ),
        ],
        Role::Combined | Role::TheHive => {
            let servers: Vec<String> = if config.role == Role::TheHive {
                config
                    .cortex_urls
                    .iter()
                    .map(|(name, url)| format!("{name} ({url})"))
                    .collect()
            } else {
                config
                    .cortex_servers
                    .iter()
                    .map(|s| format!("{} ({})", s.name, s.analyzers.join(", ")))
                    .collect()
            };
            let title = if config.role == Role::TheHive {
                format!("{versions}, Cortex over HTTP")
            } else {
                format!("{versions} + {cortex_version}")
            };
            vec![
                format!("hivecheck emulator ({title}) listening on {url}"),
                format!("  organisation:    {}", config.org),
                format!(
                    "  analyst:         {} / password {}",
                    config.analyst_login, config.analyst_password
                ),
                format!("  analyst API key: {}", config.analyst_key),
                format!(
                    "  admin:           {} / password {} (organisation admin)",
                    config.admin_login, config.admin_password
                ),
                format!(
                    "  cortex servers:  {}",
                    if servers.is_empty() {
                        "none yet (PUT /api/v1/admin/config/cortex sets them)".to_owned()
                    } else {
                        servers.join("; ")
                    }
                ),
            ]
        }
    };
    lines.push("Press Ctrl-C to stop.".to_owned());
    // The banner is the output of `hivecheck emulate`: the operator needs these credentials to
    // connect. A closed stdout must not stop the server, so write errors are ignored.
    let mut out = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        // Without a Ctrl-C handler the server still stops on SIGTERM.
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
