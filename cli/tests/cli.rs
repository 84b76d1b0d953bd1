//! The `oms` binary as a user runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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
        "serve", "token", "schema", "tenant", "plan", "idp", "version",
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
fn serve_says_what_it_will_do_and_fails_until_the_api_lands() {
    let dir = std::env::temp_dir().join("oms-cli-test-data");
    let out = oms(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("not available yet"), "{err}");
    assert!(err.contains("store.redb"), "{err}");
    assert!(err.contains("/graphql"), "{err}");
    assert!(
        !dir.exists(),
        "serve must not create anything before it can run"
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
