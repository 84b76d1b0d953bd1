//! A local fake of the Lambda Runtime API (`/2018-06-01/runtime/...`): a Lambda binary started
//! with `AWS_LAMBDA_RUNTIME_API` pointing at it is handed the queued events one by one, as
//! Lambda hands them, and its answers, errors and init error are collected. The time from the
//! process's start to its first `next` request is its init time.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::Value;

#[derive(Default)]
struct Runtime {
    /// Each event's request id and payload, as bytes go out (not necessarily JSON).
    queue: VecDeque<(String, String)>,
    answers: Vec<(String, Result<Value, Value>)>,
    first_next: Option<Instant>,
    init_error: Option<String>,
}

type Shared = Arc<Mutex<Runtime>>;

fn lock(rt: &Shared) -> std::sync::MutexGuard<'_, Runtime> {
    rt.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn next(State(rt): State<Shared>) -> axum::response::Response {
    let item = {
        let mut r = lock(&rt);
        r.first_next.get_or_insert_with(Instant::now);
        r.queue.pop_front()
    };
    let Some((id, event)) = item else {
        // Nothing more: hold the request until the caller kills the process.
        tokio::time::sleep(Duration::from_secs(600)).await;
        return StatusCode::NO_CONTENT.into_response();
    };
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        + 30_000;
    (
        [
            ("lambda-runtime-aws-request-id", id),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:test".to_owned(),
            ),
            (
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000".to_owned(),
            ),
            ("content-type", "application/json".to_owned()),
        ],
        event,
    )
        .into_response()
}

fn parse(body: String) -> Value {
    serde_json::from_str(&body).unwrap_or(Value::String(body))
}

async fn response(
    State(rt): State<Shared>,
    UrlPath(id): UrlPath<String>,
    body: String,
) -> StatusCode {
    lock(&rt).answers.push((id, Ok(parse(body))));
    StatusCode::ACCEPTED
}

async fn error(State(rt): State<Shared>, UrlPath(id): UrlPath<String>, body: String) -> StatusCode {
    lock(&rt).answers.push((id, Err(parse(body))));
    StatusCode::ACCEPTED
}

async fn init_error(State(rt): State<Shared>, body: String) -> StatusCode {
    lock(&rt).init_error = Some(body);
    StatusCode::ACCEPTED
}

/// What a run of a binary gave.
#[derive(Debug)]
pub struct Invocations {
    /// The answer to each event, in the order queued: `Ok` for a response, `Err` for an
    /// invocation error.
    pub answers: Vec<Result<Value, Value>>,
    /// Process start → first `next` request.
    pub init: Duration,
}

/// How a run ended short.
#[derive(Debug)]
pub enum RunFailure {
    /// The process exited (init failed): its status and what it wrote to stderr.
    Exited { status: String, stderr: String },
    /// It reported an init error to the Runtime API.
    InitError(String),
    /// Not every event was answered within the time allowed.
    TimedOut { answered: usize, wanted: usize },
}

/// Runs the Lambda binary at `path` with `env` (and the variables Lambda sets) against a fake
/// Runtime API that hands it `events`; kills it once every event is answered.
pub async fn run_binary(
    path: &Path,
    env: &[(&str, String)],
    events: Vec<Value>,
) -> Result<Invocations, RunFailure> {
    run_binary_raw(path, env, events.iter().map(Value::to_string).collect()).await
}

/// As [`run_binary`], each payload handed over as it is written (a payload that is not JSON
/// reaches the function as Lambda would hand it).
pub async fn run_binary_raw(
    path: &Path,
    env: &[(&str, String)],
    events: Vec<String>,
) -> Result<Invocations, RunFailure> {
    let rt: Shared = Arc::default();
    {
        let mut r = lock(&rt);
        for (i, e) in events.iter().enumerate() {
            r.queue.push_back((format!("req-{i}"), e.clone()));
        }
    }
    let app = axum::Router::new()
        .route(
            "/2018-06-01/runtime/invocation/next",
            axum::routing::get(next),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            axum::routing::post(response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            axum::routing::post(error),
        )
        .route(
            "/2018-06-01/runtime/init/error",
            axum::routing::post(init_error),
        )
        .with_state(rt.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| RunFailure::InitError(format!("cannot listen: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| RunFailure::InitError(e.to_string()))?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let binary = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let stderr = tempfile::NamedTempFile::new()
        .map_err(|e| RunFailure::InitError(format!("cannot create a temp file: {e}")))?;
    let started = Instant::now();
    let mut child = std::process::Command::new(path)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &binary)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{binary}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(
            stderr
                .reopen()
                .map_err(|e| RunFailure::InitError(e.to_string()))?,
        )
        .spawn()
        .map_err(|e| RunFailure::InitError(format!("cannot start {}: {e}", path.display())))?;
    let wanted = events.len();
    let mut outcome = Err(RunFailure::TimedOut {
        answered: 0,
        wanted,
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        {
            let r = lock(&rt);
            if let Some(e) = &r.init_error {
                outcome = Err(RunFailure::InitError(e.clone()));
                break;
            }
            // With no events, the first `next` is the end of init.
            if r.answers.len() >= wanted && (wanted > 0 || r.first_next.is_some()) {
                outcome = Ok(());
                break;
            }
            outcome = Err(RunFailure::TimedOut {
                answered: r.answers.len(),
                wanted,
            });
        }
        if let Ok(Some(status)) = child.try_wait() {
            outcome = Err(RunFailure::Exited {
                status: status.to_string(),
                stderr: std::fs::read_to_string(stderr.path()).unwrap_or_default(),
            });
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    server.abort();
    outcome?;
    let r = lock(&rt);
    let init = r.first_next.map_or(Duration::MAX, |t| t - started);
    let mut answers = r.answers.clone();
    answers.sort_by_key(|(id, _)| {
        id.trim_start_matches("req-")
            .parse::<usize>()
            .unwrap_or(usize::MAX)
    });
    Ok(Invocations {
        answers: answers.into_iter().map(|(_, a)| a).collect(),
        init,
    })
}

/// A Lambda binary kept running against its own fake Runtime API, invoked one event at a time
/// as Lambda invokes an execution environment: [`Lambda::invoke`] hands it the next event and
/// waits for its answer. The process is killed when the value is dropped.
pub struct Lambda {
    events: tokio::sync::mpsc::Sender<(String, String)>,
    answers: Arc<Mutex<std::collections::HashMap<String, Result<Value, Value>>>>,
    child: std::process::Child,
    server: tokio::task::JoinHandle<()>,
    next_id: std::sync::atomic::AtomicUsize,
    name: String,
}

#[derive(Clone)]
struct Live {
    events: Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<(String, String)>>>,
    answers: Arc<Mutex<std::collections::HashMap<String, Result<Value, Value>>>>,
    arn: String,
}

async fn live_next(State(rt): State<Live>) -> axum::response::Response {
    let Some((id, event)) = rt.events.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        + 30_000;
    (
        [
            ("lambda-runtime-aws-request-id", id),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            ("lambda-runtime-invoked-function-arn", rt.arn.clone()),
            (
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000".to_owned(),
            ),
            ("content-type", "application/json".to_owned()),
        ],
        event,
    )
        .into_response()
}

async fn live_response(
    State(rt): State<Live>,
    UrlPath(id): UrlPath<String>,
    body: String,
) -> StatusCode {
    if let Ok(mut a) = rt.answers.lock() {
        a.insert(id, Ok(parse(body)));
    }
    StatusCode::ACCEPTED
}

async fn live_error(
    State(rt): State<Live>,
    UrlPath(id): UrlPath<String>,
    body: String,
) -> StatusCode {
    if let Ok(mut a) = rt.answers.lock() {
        a.insert(id, Err(parse(body)));
    }
    StatusCode::ACCEPTED
}

impl Lambda {
    /// Starts the binary at `path` with `env`, its function ARN in account `123456789012`.
    pub async fn start(path: &Path, env: &[(&str, String)]) -> Result<Self, RunFailure> {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let live = Live {
            events: Arc::new(tokio::sync::Mutex::new(rx)),
            answers: Arc::default(),
            arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
        };
        let answers = live.answers.clone();
        let app = axum::Router::new()
            .route(
                "/2018-06-01/runtime/invocation/next",
                axum::routing::get(live_next),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                axum::routing::post(live_response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                axum::routing::post(live_error),
            )
            .with_state(live);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| RunFailure::InitError(format!("cannot listen: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| RunFailure::InitError(e.to_string()))?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let child = std::process::Command::new(path)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .map_err(|e| RunFailure::InitError(format!("cannot start {}: {e}", path.display())))?;
        Ok(Self {
            events: tx,
            answers,
            child,
            server,
            next_id: std::sync::atomic::AtomicUsize::new(0),
            name,
        })
    }

    /// Hands the process `event` and waits (up to `within`) for its answer: `Ok` a response,
    /// `Err` an invocation error.
    pub async fn invoke(&mut self, event: &Value, within: Duration) -> Result<Value, Value> {
        let n = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let id = format!("{}-{n}", self.name);
        let deadline = Instant::now() + within;
        let sent = self.events.send((id.clone(), event.to_string())).await;
        if sent.is_err() {
            return Err(Value::String("the fake Runtime API is gone".into()));
        }
        loop {
            if let Some(answer) = self.answers.lock().ok().and_then(|mut a| a.remove(&id)) {
                return answer;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Value::String(format!("{} exited: {status}", self.name)));
            }
            if Instant::now() > deadline {
                return Err(Value::String(format!(
                    "{} did not answer in {within:?}",
                    self.name
                )));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

impl Drop for Lambda {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.server.abort();
    }
}
