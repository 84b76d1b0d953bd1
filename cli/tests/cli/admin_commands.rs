//! Every admin command group — tenant, plan, idp, webhook, events, gateway, carrier
//! credentials, api-key, labels — run once on a fresh data directory with no server (the first
//! command prepares it: no `oms serve` first) and once against a running `oms serve` that holds
//! the store (through its owner-only admin socket): the same standard output, ids and times
//! aside, and every command succeeds.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::server::{Server, oms_with_input};

/// One admin command: its arguments and standard input.
struct Step {
    args: Vec<String>,
    input: &'static str,
}

fn step(args: &[&str], input: &'static str) -> Step {
    Step {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        input,
    }
}

/// The script, with `{credential}` replaced by the id the credentials list printed last.
fn script(idp_file: &Path) -> Vec<Step> {
    let idp = idp_file.to_str().unwrap();
    vec![
        step(&["tenant", "create", "acme", "--name", "Acme"], ""),
        step(
            &["plan", "set", "gold", "--operations", "viewer,orders"],
            "",
        ),
        step(&["tenant", "create", "beta", "--plan", "gold"], ""),
        step(&["idp", "set", "beta", "--file", idp], ""),
        step(&["tenant", "suspend", "beta"], ""),
        step(&["tenant", "activate", "beta"], ""),
        step(&["tenant", "list"], ""),
        step(
            &[
                "webhook",
                "set",
                "--tenant",
                "acme",
                "--hook",
                "add-order",
                "--provider",
                "oms",
            ],
            "acme-add-order-secret-0001\n",
        ),
        step(
            &[
                "webhook",
                "sign",
                "--tenant",
                "acme",
                "--hook",
                "add-order",
                "--at",
                "1700000000",
            ],
            "{\"externalRef\":\"A-1\"}",
        ),
        step(
            &[
                "webhook",
                "set",
                "--saas",
                "--hook",
                "shipment-tracker",
                "--provider",
                "easypost",
            ],
            "saas-tracker-secret-00001\n",
        ),
        step(
            &[
                "events",
                "source",
                "set",
                "--tenant",
                "acme",
                "--account",
                "123456789012",
                "--source",
                "com.acme.orders",
            ],
            "",
        ),
        step(
            &[
                "events",
                "bus-policy",
                "--bus-arn",
                "arn:aws:events:us-east-1:111122223333:event-bus/oms",
            ],
            "",
        ),
        step(
            &[
                "gateway",
                "set",
                "--id",
                "ep",
                "--kind",
                "easypost",
                "--name",
                "EasyPost",
                "--sandbox-url",
                "http://127.0.0.1:9",
            ],
            "",
        ),
        step(
            &[
                "gateway",
                "offer",
                "--id",
                "ep",
                "--account",
                "shared",
                "--plan",
                "demo",
            ],
            "",
        ),
        step(&["gateway", "list"], ""),
        step(
            &[
                "carrier",
                "credentials",
                "add",
                "--tenant",
                "acme",
                "--gateway",
                "ep",
                "--account",
                "main",
            ],
            "EZTK-admin-commands-000000001\n",
        ),
        step(
            &[
                "carrier",
                "credentials",
                "add",
                "--platform",
                "--gateway",
                "ep",
                "--account",
                "shared",
            ],
            "{\"apiKey\": \"EZTK-platform-shared-00000001\"}",
        ),
        step(
            &[
                "carrier",
                "credentials",
                "rotate",
                "--tenant",
                "acme",
                "--gateway",
                "ep",
                "--account",
                "main",
            ],
            "EZTK-admin-commands-000000002\n",
        ),
        step(&["carrier", "credentials", "list", "--tenant", "acme"], ""),
        step(
            &[
                "carrier",
                "credentials",
                "expire",
                "--tenant",
                "acme",
                "--gateway",
                "ep",
                "--account",
                "main",
                "--id",
                "{credential}",
            ],
            "",
        ),
        step(&["carrier", "credentials", "list", "--platform"], ""),
        step(
            &[
                "api-key", "create", "--tenant", "acme", "--name", "ERP", "--role", "staff",
            ],
            "",
        ),
        step(&["api-key", "list", "--tenant", "acme"], ""),
        step(&["labels", "reconcile"], ""),
        step(&["tenant", "show", "acme"], ""),
    ]
}

/// Runs the script on `dir`; each command's standard output, ids and times replaced.
fn run(dir: &Path, idp_file: &Path) -> Vec<String> {
    let mut outputs = Vec::new();
    let mut credential = String::new();
    for s in script(idp_file) {
        let args: Vec<String> = s
            .args
            .iter()
            .map(|a| a.replace("{credential}", &credential))
            .collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = oms_with_input(dir, &refs, s.input);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "oms {}: {stderr}{stdout}",
            args.join(" ")
        );
        assert!(!stderr.contains("stop it first"), "{stderr}");
        if args.starts_with(&["carrier".into(), "credentials".into(), "list".into()]) {
            // acme/main's version in force (the rotation's), expired next.
            if let Some(line) = stdout
                .lines()
                .find(|l| l.contains("ep/main") && l.contains("thru=open"))
            {
                credential = line.split('\t').next().unwrap().to_owned();
            }
        }
        outputs.push(normalize(&format!("$ oms {}\n{stdout}", args.join(" "))));
    }
    outputs
}

/// Ids (ULIDs), times, API key texts and ages replaced by placeholders.
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_inclusive(|c: char| {
        c.is_whitespace() || c == '"' || c == '=' || c == ',' || c == '/'
    }) {
        let (core, sep) = match word.char_indices().last() {
            Some((i, c)) if !c.is_alphanumeric() && c != '_' && c != '-' && c != ':' => {
                (&word[..i], &word[i..])
            }
            _ => (word, ""),
        };
        let ulid = |s: &str| {
            s.len() == 26
                && s.chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        };
        let replaced = if ulid(core) {
            "<id>".to_owned()
        } else if core.starts_with("oms_test_") || core.starts_with("oms_live_") {
            "<key>".to_owned()
        } else if core.len() >= 20 && core.as_bytes().get(4) == Some(&b'-') && core.contains('T') {
            "<time>".to_owned()
        } else {
            core.to_owned()
        };
        out.push_str(&replaced);
        out.push_str(sep);
    }
    out
}

#[tokio::test]
async fn every_admin_command_prints_the_same_with_or_without_a_running_server() {
    let idp_dir = tempfile::tempdir().unwrap();
    let idp_file = idp_dir.path().join("idp.json");

    // Stopped: a fresh data directory, no `oms serve` ever.
    let stopped = tempfile::tempdir().unwrap();
    let registration = auth::dev::DevIdp::load_or_generate(stopped.path())
        .unwrap()
        .registration()
        .unwrap();
    std::fs::write(&idp_file, serde_json::to_vec(&registration).unwrap()).unwrap();
    let offline = run(stopped.path(), &idp_file);

    // Running: the server holds the store; the commands go through its admin socket.
    let server = Server::start(&[]);
    let socket = server.dir.path().join("run").join("admin.sock");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&socket), 0o600, "the socket is the owner's only");
    assert_eq!(mode(socket.parent().unwrap()), 0o700);
    let online = run(server.dir.path(), &idp_file);

    assert_eq!(offline.len(), online.len());
    for (a, b) in offline.iter().zip(&online) {
        assert_eq!(a, b, "stopped and running differ");
    }
    // The outputs say what happened (not only that both are empty).
    let all = online.join("\n");
    for expected in [
        "created tenant acme (Acme) on plan demo, 1 shard(s)",
        "plan gold permits 2 operations",
        "tenant beta now accepts tokens from 1 issuer(s)",
        "acme: add-order hook signed by oms",
        "X-OMS-Signature: t=1700000000,v1=",
        "the SaaS provider: shipment-tracker hook signed by easypost",
        "tenant acme now takes events from 123456789012/com.acme.orders (1 source(s) registered)",
        "\"arn:aws:events:us-east-1:111122223333:event-bus/oms\"",
        "gateway ep (easypost) is in the catalogue",
        "ep/platform:shared is offered to plans demo",
        "ep\teasypost\tapi-key\tsandbox=http://127.0.0.1:9",
        "added <id>\tep/main\tsandbox\tfrom=<time>\tthru=open\tkey=…0001\teffective",
        "rotated to <id>\tep/main\tsandbox",
        "expired <id>\tep/main",
        "<id>\tep/shared\tsandbox",
        "<key>",
        "role=staff",
        "no open label purchases or voids in 3 tenant(s)",
        "\"com.acme.orders\"",
    ] {
        assert!(all.contains(expected), "{expected:?} not in:\n{all}");
    }
    // The signature is the same bytes either way: the same secret, body and time.
    let sig = |outs: &[String]| {
        outs.iter()
            .find(|o| o.contains("X-OMS-Signature"))
            .unwrap()
            .clone()
    };
    assert_eq!(sig(&offline), sig(&online));
}
