use std::process::Command;

fn oms(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_oms"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn help_lists_every_subcommand() {
    let out = oms(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for sub in [
        "serve", "token", "schema", "tenant", "plan", "idp", "webhook", "events", "version",
    ] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(sub)),
            "{sub} missing from:\n{help}"
        );
    }
}

#[test]
fn version_prints_the_crate_version() {
    let out = oms(&["version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("oms {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn schema_prints_the_sdl_and_matches_the_committed_file() {
    let out = oms(&["schema"]);
    assert!(out.status.success());
    let sdl = String::from_utf8(out.stdout).unwrap();
    assert!(sdl.contains("type Mutation") && sdl.contains("createOrder"));
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql")).unwrap();
    assert!(
        committed == sdl,
        "schema.graphql is out of date: run `cargo run --bin oms -- schema > schema.graphql` and commit it"
    );
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let out = oms(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("unrecognized subcommand")
    );
}

fn oms_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_oms"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// `oms tenant create` then `oms token` in dev mode gives a token the verifier accepts; with the
/// production configuration the same token (the dev issuer) is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_tenant_create_then_token_is_accepted_by_the_verifier() {
    use std::sync::Arc;

    use auth::directory::CachedDirectory;
    use auth::{AuthError, Caller, Verifier, VerifierConfig};
    use domain::access::Role;

    let dir = tempfile::tempdir().unwrap();
    let created = oms_in(
        dir.path(),
        &["tenant", "create", "acme", "--name", "Acme Retail"],
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(stdout(&created).contains("created tenant acme"));
    let token = oms_in(
        dir.path(),
        &[
            "token", "--tenant", "acme", "--role", "vendor", "--vendor", "v1",
        ],
    );
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let token = stdout(&token).trim().to_owned();

    let clock: Arc<dyn store::Clock> = Arc::new(store::SystemClock);
    let open = || {
        let store =
            store::embedded::EmbeddedStore::open(&dir.path().join("store.redb"), clock.clone())
                .unwrap();
        Arc::new(CachedDirectory::new(
            Arc::new(store::repo::RegistryRepository::new(Arc::new(store))),
            clock.clone(),
            60,
        ))
    };
    let dev = Verifier::new(
        open(),
        clock.clone(),
        VerifierConfig {
            dev_mode: true,
            ..VerifierConfig::default()
        },
    )
    .unwrap();
    let Caller::Tenant(id) = dev.verify_token(&token).await.unwrap() else {
        panic!("not a tenant caller")
    };
    assert_eq!(id.tenant().as_str(), "acme");
    assert_eq!(
        id.roles().iter().copied().collect::<Vec<_>>(),
        [Role::Vendor]
    );
    assert_eq!(id.vendor().map(|v| v.as_str()), Some("v1"));
    drop(dev);

    let production = Verifier::new(open(), clock.clone(), VerifierConfig::default()).unwrap();
    assert_eq!(
        production.verify_token(&token).await.unwrap_err(),
        AuthError::UnknownIssuer
    );
}

#[test]
fn admin_commands_explain_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        oms_in(dir.path(), &["tenant", "create", "acme"])
            .status
            .success()
    );
    let again = oms_in(dir.path(), &["tenant", "create", "acme"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let no_plan = oms_in(dir.path(), &["tenant", "create", "other", "--plan", "gold"]);
    assert!(String::from_utf8_lossy(&no_plan.stderr).contains("oms plan set gold"));
    let bad_op = oms_in(
        dir.path(),
        &[
            "plan",
            "set",
            "gold",
            "--operations",
            "createOrder,frobnicate",
        ],
    );
    assert!(String::from_utf8_lossy(&bad_op.stderr).contains("frobnicate"));
    assert!(
        oms_in(
            dir.path(),
            &["plan", "set", "gold", "--operations", "createOrder,order"]
        )
        .status
        .success()
    );
    assert!(
        oms_in(dir.path(), &["tenant", "create", "other", "--plan", "gold"])
            .status
            .success()
    );
    let list = stdout(&oms_in(dir.path(), &["tenant", "list"]));
    assert!(
        list.contains("acme") && list.contains("other\tActive\tplan=gold"),
        "{list}"
    );
    assert!(
        oms_in(dir.path(), &["tenant", "suspend", "other"])
            .status
            .success()
    );
    assert!(stdout(&oms_in(dir.path(), &["tenant", "show", "other"])).contains("\"SUSPENDED\""));
    let vendor = oms_in(
        dir.path(),
        &["token", "--tenant", "acme", "--role", "vendor"],
    );
    assert!(String::from_utf8_lossy(&vendor.stderr).contains("--vendor"));
    let prod = oms_in(
        dir.path(),
        &["--mode", "production", "token", "--tenant", "acme"],
    );
    assert!(String::from_utf8_lossy(&prod.stderr).contains("dev mode only"));
    let idp = dir.path().join("idp.json");
    std::fs::write(&idp, "{\"issuer\": 42}").unwrap();
    let bad_idp = oms_in(
        dir.path(),
        &["idp", "set", "acme", "--file", idp.to_str().unwrap()],
    );
    assert!(String::from_utf8_lossy(&bad_idp.stderr).contains("not an IdP registration"));
}

#[test]
fn an_event_source_belongs_to_one_tenant() {
    let dir = tempfile::tempdir().unwrap();
    for t in ["acme", "other"] {
        assert!(
            oms_in(dir.path(), &["tenant", "create", t])
                .status
                .success()
        );
    }
    let set = |tenant: &str, account: &str, source: &str| {
        oms_in(
            dir.path(),
            &[
                "events",
                "source",
                "set",
                "--tenant",
                tenant,
                "--account",
                account,
                "--source",
                source,
            ],
        )
    };
    let ok = set("acme", "123456789012", "com.acme.orders");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout(&ok).contains("123456789012/com.acme.orders"));
    // Again for the same tenant: fine, still one source.
    assert!(stdout(&set("acme", "123456789012", "com.acme.orders")).contains("1 source(s)"));
    let taken = set("other", "123456789012", "com.acme.orders");
    assert!(!taken.status.success());
    assert!(
        String::from_utf8_lossy(&taken.stderr).contains("already registered to another tenant"),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    let bad = set("other", "12345", "com.other");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("12 digits"));
    let ours = set("other", "123456789012", "tenantoms");
    assert!(String::from_utf8_lossy(&ours.stderr).contains("reserved"));
    let shown = stdout(&oms_in(dir.path(), &["tenant", "show", "acme"]));
    assert!(shown.contains("\"eventSources\""), "{shown}");
}

#[test]
fn carrier_credentials_from_the_command_line_never_print_a_secret() {
    use crate::server::oms_with_input;
    let dir = tempfile::tempdir().unwrap();
    let ok = |out: &std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ok(&oms_in(dir.path(), &["tenant", "create", "acme"]));
    ok(&oms_in(
        dir.path(),
        &[
            "gateway",
            "set",
            "--id",
            "easypost",
            "--kind",
            "easypost",
            "--name",
            "EasyPost",
            "--sandbox-url",
            "https://api.easypost.com",
            "--production-url",
            "https://api.easypost.com",
        ],
    ));
    assert!(ok(&oms_in(dir.path(), &["gateway", "list"])).contains("easypost\teasypost\tapi-key"));
    let args = [
        "carrier",
        "credentials",
        "add",
        "--tenant",
        "acme",
        "--gateway",
        "easypost",
        "--account",
        "main",
    ];
    let key = "EZTK-cli-secret-000011112222";
    let added = ok(&oms_with_input(dir.path(), &args, key));
    assert!(
        added.contains("key=…2222") && added.contains("effective"),
        "{added}"
    );
    let again = oms_with_input(dir.path(), &args, "EZTK-another-key-3333444455556666");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("overlaps"));
    let mut rotate = args.to_vec();
    rotate[2] = "rotate";
    let json = r#"{"apiKey": "EZTK-rotated-secret-777788889999", "password": "hunter2-hunter2"}"#;
    let rotated = ok(&oms_with_input(dir.path(), &rotate, json));
    assert!(rotated.contains("key=…9999"), "{rotated}");
    let listed = ok(&oms_in(
        dir.path(),
        &["carrier", "credentials", "list", "--tenant", "acme"],
    ));
    assert_eq!(listed.lines().count(), 2, "{listed}");
    let id = listed
        .lines()
        .nth(1)
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_owned();
    let expired = ok(&oms_in(
        dir.path(),
        &[
            "carrier",
            "credentials",
            "expire",
            "--tenant",
            "acme",
            "--gateway",
            "easypost",
            "--account",
            "main",
            "--id",
            &id,
        ],
    ));
    assert!(expired.contains("expired"), "{expired}");
    let bad_json = oms_with_input(dir.path(), &rotate, r#"{"apiKey": "EZTK-leak-me"#);
    let err = String::from_utf8_lossy(&bad_json.stderr).into_owned();
    assert!(
        err.contains("does not parse") && !err.contains("leak-me"),
        "{err}"
    );
    let everything = format!("{added}{rotated}{listed}{expired}{err}");
    for secret in [key, "EZTK-rotated-secret-777788889999", "hunter2-hunter2"] {
        assert!(!everything.contains(secret), "a secret was printed");
    }
}

#[test]
fn table_create_makes_the_table_once_and_then_only_checks_it() {
    let endpoint = crate::server::service_endpoint("OMS_DYNAMODB_ENDPOINT");
    let table = format!("oms-cli-{}", std::process::id());
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_oms"))
            .args([
                "--dynamodb-table",
                &table,
                "--dynamodb-endpoint",
                &endpoint,
                "table",
                "create",
            ])
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap()
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(stdout(&first).contains(&format!("created table {table}")));
    let again = run();
    assert!(
        stdout(&again).contains("already exists and matches"),
        "{}",
        stdout(&again)
    );
    let embedded = oms(&["table", "create"]);
    assert!(String::from_utf8_lossy(&embedded.stderr).contains("needs --dynamodb-table"));
}

/// Logs written to a pipe (or a file) are plain text: colour codes only on a terminal.
#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_oms"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("OMS_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        let done = line.contains("created the demo tenant");
        seen.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.iter().any(|l| l.contains("created the demo tenant")),
        "{seen:?}"
    );
    for line in &seen {
        assert!(!line.contains('\u{1b}'), "a colour code in {line:?}");
    }
}

/// A flag `oms serve` cannot honour is refused with the reason, never silently ignored: dev
/// mode is the embedded store's; production over a DynamoDB table needs `--relay off` (the AWS
/// deployment's relay publishes its stream); production names the first missing key.
#[test]
fn serve_refuses_flags_it_cannot_honour() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    for (args, serve, expected) in [
        (vec!["--dynamodb-table", "T"], vec![], "embedded store only"),
        (
            vec!["--dynamodb-endpoint", "http://127.0.0.1:8000"],
            vec![],
            "embedded store only",
        ),
        (
            vec!["--mode", "production", "--dynamodb-table", "T"],
            vec![],
            "add `--relay off`",
        ),
        (
            vec!["--mode", "production"],
            vec![],
            "production mode needs a secrets master key: set `keys.secrets_master` in the config file or OMS_SECRETS_MASTER_KEY",
        ),
        (
            vec![],
            vec!["--config", "oms.toml"],
            "add `--mode production`",
        ),
    ] {
        let mut all = vec!["--data-dir", data_dir];
        all.extend(args.iter().copied());
        all.extend(["serve", "--listen", "127.0.0.1:0"]);
        all.extend(serve.iter().copied());
        let out = oms(&all);
        assert!(!out.status.success(), "{args:?} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}
