//! Lambda cold start, measured: each release Lambda binary is started again and again against a
//! fake Runtime API (`testkit::lambda_runtime`), and the time from process start to its first
//! `next` request is its init. Every AWS endpoint points at a closed local port, so an init that
//! did network I/O would show (and the targets, ≤ 25 ms, would not hold). Also prints the
//! binaries' stripped sizes (target ≤ 10 MB): the host release build, and the arm64 artifacts
//! when `make lambda` has built them.
//!
//! `make bench` runs it after building the release binaries (`make lambda-bins`). It lives in the
//! test kit, so that it builds in the same `cargo bench` as the other benches (one feature set).

use std::path::{Path, PathBuf};
use std::time::Duration;

use testkit::lambda_runtime::run_binary;

const RUNS: usize = 15;
const TARGET_INIT_MS: f64 = 25.0;
const TARGET_SIZE_MB: f64 = 10.0;
const BINARIES: [&str; 6] = [
    "graphql",
    "webhook-add-order",
    "webhook-shipment-tracker",
    "event-consumer",
    "outbox-relay",
    "notifier",
];

/// `target/lambda-host`, where `make lambda-bins` builds the binaries (the release profile with
/// `panic = "abort"`, as deployed): this bench runs from `target/release/deps`.
fn release_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent()?.parent().map(Path::to_path_buf))
        .unwrap_or_default()
        .join("lambda-host")
}

/// Size after `strip`, of a copy (the release profile keeps symbols for backtraces).
fn stripped_size(path: &Path) -> Option<u64> {
    let copy = tempfile::NamedTempFile::new().ok()?;
    std::fs::copy(path, copy.path()).ok()?;
    let ok = std::process::Command::new("strip")
        .arg(copy.path())
        .status()
        .ok()?
        .success();
    ok.then(|| std::fs::metadata(copy.path()).ok().map(|m| m.len()))
        .flatten()
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "OVER TARGET" }
}

/// Where `make lambda` (sam build) leaves the arm64 bootstraps.
fn arm64_artifact(binary: &str) -> Option<PathBuf> {
    let logical = match binary {
        "graphql" => "GraphqlFunction",
        "webhook-add-order" => "WebhookAddOrderFunction",
        "webhook-shipment-tracker" => "WebhookShipmentTrackerFunction",
        "event-consumer" => "EventConsumerFunction",
        "outbox-relay" => "OutboxRelayFunction",
        "notifier" => "NotifierFunction",
        _ => return None,
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root.join(".aws-sam/build").join(logical).join("bootstrap");
    path.exists().then_some(path)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let closed = "http://127.0.0.1:9".to_owned();
    let env = [
        ("TABLE_NAME", "bench".to_owned()),
        (
            "OMS_CURSOR_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_owned(),
        ),
        ("OMS_DEAD_LETTER_QUEUE_URL", format!("{closed}/queue/dlq")),
        (
            "OMS_NOTIFICATIONS_QUEUE_URL",
            format!("{closed}/queue/notifications"),
        ),
        ("OMS_EVENT_BUS", "bench".to_owned()),
        ("OMS_DYNAMODB_ENDPOINT", closed.clone()),
        ("OMS_SECRETS_ENDPOINT", closed.clone()),
        ("OMS_SQS_ENDPOINT", closed.clone()),
        ("OMS_EVENTBRIDGE_ENDPOINT", closed),
        ("OMS_LOG", "warn".to_owned()),
    ];
    println!("Lambda init (process start -> first `next`), {RUNS} cold starts each:");
    let mut failed = false;
    let mut rows = Vec::new();
    for binary in BINARIES {
        let path = release_dir().join(binary);
        if !path.exists() {
            eprintln!(
                "{} is missing: `make lambda-bins` builds it",
                path.display()
            );
            std::process::exit(2);
        }
        let mut inits: Vec<Duration> = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            match run_binary(&path, &env, Vec::new()).await {
                Ok(run) => inits.push(run.init),
                Err(e) => {
                    eprintln!("{binary}: {e:?}");
                    std::process::exit(2);
                }
            }
        }
        inits.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let p50 = ms(inits[RUNS / 2]);
        let p90 = ms(inits[RUNS * 9 / 10]);
        failed |= p50 > TARGET_INIT_MS;
        rows.push(serde_json::json!({"function": binary, "init_p50_ms": p50, "init_p90_ms": p90}));
        println!(
            "  {binary:<26} min {:6.1} ms  p50 {p50:6.1} ms  p90 {p90:6.1} ms  [{}]",
            ms(inits[0]),
            verdict(p50 <= TARGET_INIT_MS)
        );
    }
    println!("Stripped sizes (target <= {TARGET_SIZE_MB} MB):");
    for (binary, row) in BINARIES.iter().zip(rows.iter_mut()) {
        let host = stripped_size(&release_dir().join(binary)).map_or(0.0, mb);
        let arm = arm64_artifact(binary)
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| mb(m.len()));
        row["host_stripped_mb"] = serde_json::json!(host);
        row["arm64_mb"] = serde_json::json!(arm);
        match arm {
            Some(arm) => {
                failed |= arm > TARGET_SIZE_MB;
                println!(
                    "  {binary:<26} arm64 (deployed) {arm:5.1} MB [{}]   host release {host:5.1} MB",
                    verdict(arm <= TARGET_SIZE_MB)
                );
            }
            None => println!(
                "  {binary:<26} host release {host:5.1} MB   (arm64: run `make lambda` first)"
            ),
        }
    }
    if failed {
        println!("Some figures are over target (see above).");
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    let written = std::fs::create_dir_all(&out).and_then(|()| {
        std::fs::write(
            out.join("lambda.json"),
            serde_json::json!({"runs": RUNS, "functions": rows}).to_string(),
        )
    });
    if let Err(e) = written {
        eprintln!("could not write target/bench/lambda.json: {e}");
        std::process::exit(2);
    }
}
