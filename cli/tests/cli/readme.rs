//! The README's quick start, run as written: the shell block that takes a token, creates an
//! order and reads it back runs against a fresh `oms serve`, so the README cannot drift from
//! the product.

use std::process::Command;

use serde_json::{Value, json};

use crate::server::Server;

const README: &str = include_str!("../../../README.md");

/// The `sh` block after "In a second terminal" in the quick start.
fn quick_start_block() -> &'static str {
    let (_, after) = README
        .split_once("In a second terminal")
        .expect("the README's quick start has its second-terminal step");
    let (_, block) = after.split_once("```sh\n").expect("an sh block follows");
    block.split_once("```").expect("the block ends").0
}

#[tokio::test]
async fn the_readme_quick_start_runs_as_written() {
    let s = Server::start(&[]);
    let block = quick_start_block();
    // The README runs from the repository root, against the default data dir and port; here the
    // same commands run with this build's binary against this test's server.
    let oms = format!(
        "{} --data-dir {}",
        env!("CARGO_BIN_EXE_oms"),
        s.dir.path().display()
    );
    let host = s.base().trim_start_matches("http://").to_owned();
    let script = block
        .replace("cargo run -q --release --bin oms --", &oms)
        .replace("localhost:8080", &host);
    assert_eq!(
        script.matches(env!("CARGO_BIN_EXE_oms")).count(),
        1,
        "the README no longer takes its token with `cargo run -q --release --bin oms -- token`:\n{block}"
    );
    assert_eq!(script.matches(&host).count(), 2, "{block}");
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the quick start failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    // curl -s prints the two answers back to back.
    let answers: Vec<Value> = serde_json::Deserializer::from_str(&stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    assert_eq!(answers.len(), 2, "{stdout}");
    let created = &answers[0]["data"]["createOrder"];
    assert_eq!(created["userErrors"], json!([]), "{stdout}");
    assert_eq!(created["order"]["status"], "PENDING", "{stdout}");
    // The README says what the first command prints; it must be what it prints.
    let total = &created["order"]["total"];
    assert_eq!(
        total,
        &json!({"amount": "44.98", "currency": "USD"}),
        "{stdout}"
    );
    assert!(
        README.contains(r#""total":{"amount":"44.98","currency":"USD"}"#),
        "the README's sample answer no longer matches"
    );
    let read = &answers[1]["data"]["orderByExternalRef"];
    assert_eq!(read["id"], created["order"]["id"], "{stdout}");
    assert_eq!(read["status"], "PENDING", "{stdout}");
    assert_eq!(read["lines"][0]["sku"], "TEE-M", "{stdout}");
}
