//! The HTTP server: the router, and an accept loop that serves each connection with hyper so
//! that a fault can reset a connection for real (SO_LINGER 0, then close: the client sees a
//! reset, not a tidy end of stream), and so that shutdown drains connections before saving.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::{Config, SandboxError, save_snapshot};
use crate::faults::Faults;
use crate::model::App;
use crate::pipeline::{ConnControl, pipeline};
use crate::ratelimit::Limiter;
use crate::routes::{
    app, batch, channels, conversation, files, imports, inspect, member_state, messages, query, removal, user_state,
    users,
};
use crate::state::{Settings, Shared, lock};

/// How long shutdown waits for open connections before closing them.
const DRAIN: Duration = Duration::from_secs(2);

fn router(shared: Arc<Shared>) -> Router {
    let stream = Router::new()
        .route("/app", get(app::get_app).patch(app::update_app))
        .route("/users", post(users::upsert).patch(users::update_partial).get(users::query))
        .route("/users/delete", post(users::delete_many))
        .route("/users/{id}", axum::routing::delete(users::delete_one))
        .route("/users/{id}/deactivate", post(user_state::deactivate))
        .route("/users/{id}/reactivate", post(user_state::reactivate))
        .route("/unread", get(user_state::unread))
        .route("/channels", post(query::query))
        .route("/channels/delete", post(removal::delete_many))
        .route("/channels/batch", axum::routing::put(batch::update))
        .route(
            "/channels/{type}/{id}",
            post(channels::update).patch(channels::update_partial).delete(removal::delete_one),
        )
        .route("/channels/{type}/{id}/query", post(channels::get_or_create))
        .route("/channels/{type}/query", post(channels::get_or_create_distinct))
        .route("/channels/{type}/{id}/message", post(messages::send))
        .route("/channels/{type}/{id}/hide", post(member_state::hide))
        .route("/channels/{type}/{id}/show", post(member_state::show))
        .route("/channels/{type}/{id}/read", post(member_state::mark_read))
        .route("/channels/{type}/{id}/truncate", post(removal::truncate))
        .route(
            "/channels/{type}/{id}/file",
            post(files::upload_file).layer(DefaultBodyLimit::max(files::MAX_FILE_BYTES)),
        )
        .route(
            "/channels/{type}/{id}/image",
            post(files::upload_image).layer(DefaultBodyLimit::max(files::MAX_FILE_BYTES)),
        )
        .route("/tasks/{id}", get(app::get_task))
        .route("/rate_limits", get(app::rate_limits))
        .route("/import_urls", post(imports::create_url))
        .route("/imports", post(imports::create))
        .route("/imports/{id}", get(imports::get))
        .route(
            "/messages/{id}",
            get(messages::get_one).put(conversation::update_partial).delete(conversation::delete_one),
        )
        .route("/messages/{id}/replies", get(conversation::replies))
        .route("/messages/{id}/reaction", post(conversation::send_reaction))
        .route("/messages/{id}/reactions", get(conversation::reactions))
        .route("/messages/{id}/reaction/{type}", delete(conversation::delete_reaction))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&shared), pipeline));
    let sandbox = Router::new()
        .route("/_sandbox/state", get(inspect::state))
        .route("/_sandbox/stats", get(inspect::stats))
        .route("/_sandbox/reset", post(inspect::reset))
        .route("/_sandbox/stats/reset", post(inspect::reset_stats))
        .route("/_sandbox/script", post(inspect::script))
        .route("/_sandbox/cdn/{*path}", get(files::serve))
        .route(
            "/_sandbox/uploads/{*path}",
            axum::routing::put(imports::upload).layer(DefaultBodyLimit::max(imports::MAX_IMPORT_BYTES)),
        );
    stream.merge(sandbox).fallback(unknown_endpoint).with_state(shared)
}

/// A path Stream does not serve: a plain 404 without Stream's error body, as a router in front of
/// an API answers, so that a client cannot mistake it for Stream's "does not exist" (404/16).
async fn unknown_endpoint() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "404 page not found")
}

/// Serves the sandbox on `listener` until `shutdown` completes, then drains connections and,
/// when configured, saves the state.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), SandboxError> {
    run_and_tell(listener, config, shutdown, || {}).await
}

/// [`run`], calling `ready` once the initial state is loaded and calls are answered at once
/// (a large fixture takes a while to load; until then, calls wait in the listener's queue).
pub async fn run_and_tell(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(),
) -> Result<(), SandboxError> {
    let shared = Arc::new(Shared {
        app: Mutex::new(App::from_snapshot(config.initial.load()?)),
        initial: config.initial,
        faults_enabled: config.fail_rate > 0.0 || !config.latency.is_zero(),
        settings: Settings {
            key: config.key,
            secret: config.secret,
            strict_team_members: config.strict_team_members,
            stall: config.stall,
            shuffle_ties: config.shuffle_ties,
            task_fail_rate: config.task_fail_rate.clamp(0.0, 1.0),
        },
        limiter: Mutex::new(Limiter::new(config.limits, config.time_scale, config.live_traffic)),
        faults: Mutex::new(Faults::new(config.seed, config.fail_rate, config.latency)),
        stats: Mutex::default(),
        script: Mutex::default(),
        chance: Mutex::new(ChaCha8Rng::seed_from_u64(config.seed ^ 0x5EED_7135)),
    });
    let router = router(Arc::clone(&shared));
    ready();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, router.clone(), stop_rx.clone()));
                }
                // Out of file descriptors and the like: keep serving the open connections.
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(DRAIN, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        connections.abort_all();
    }
    if let Some(path) = &config.save_to {
        let snapshot = lock(&shared.app).snapshot();
        save_snapshot(path, &snapshot)?;
    }
    Ok(())
}

async fn serve_connection(stream: TcpStream, router: Router, mut stop: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    // A second handle on the socket lets a fault set SO_LINGER 0 after hyper owns the stream.
    let (stream, handle) = match split_handle(stream) {
        Ok(pair) => pair,
        Err(e) => {
            tracing::warn!(error = %e, "cannot prepare connection");
            return;
        }
    };
    let reset = Arc::new(Notify::new());
    let control = ConnControl { reset: Arc::clone(&reset) };
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(control.clone());
        router.clone().oneshot(req)
    });
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        () = reset.notified() => {
            let _ = handle.set_linger(Some(Duration::ZERO));
        }
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

fn split_handle(stream: TcpStream) -> std::io::Result<(TcpStream, socket2::Socket)> {
    let socket = socket2::Socket::from(stream.into_std()?);
    let handle = socket.try_clone()?;
    Ok((TcpStream::from_std(socket.into())?, handle))
}
