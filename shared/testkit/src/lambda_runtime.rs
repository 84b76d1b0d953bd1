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
    queue: VecDeque<(String, Value)>,
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
        event.to_string(),
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
