//! Architecture rules, checked on the source tree.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Every non-test Rust source of the workspace (tests may spell keys out to check them).
fn sources() -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = ["shared", "functions", "cli"]
        .iter()
        .map(|d| workspace().join(d))
        .collect();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                if !matches!(
                    name.as_str(),
                    "tests" | "benches" | "target" | "node_modules"
                ) {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                // Unit-test modules at the end of a file are tests too.
                let code = text
                    .split("#[cfg(test)]")
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                out.push((path, code));
            }
        }
    }
    assert!(out.len() > 10, "source scan found too little: {out:?}");
    out
}

#[test]
fn keys_are_formatted_only_in_the_keys_module() {
    let keys_module = workspace().join("shared/store/src/keys.rs");
    let markers = [
        "\"T#",
        "\"SAAS#",
        "\"TRACK#",
        "#O#",
        "#IDEM#",
        "#XREF#",
        "#CFG#",
        "#CARRIER#",
        "#DLV#",
    ];
    let mut offenders = Vec::new();
    for (path, code) in sources() {
        if path == keys_module {
            continue;
        }
        for (n, line) in code.lines().enumerate() {
            if markers.iter().any(|m| line.contains(m)) {
                offenders.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "keys formatted outside store::keys:\n{}",
        offenders.join("\n")
    );
}

/// The only production code allowed to vouch for a tenant. Adding a verifier means adding it
/// here, in review.
const SCOPE_CONSTRUCTORS: &[&str] = &["shared/store/src/scope.rs"];

#[test]
fn tenant_scopes_come_only_from_verifiers() {
    let mut callers = Vec::new();
    for (path, code) in sources() {
        if code.contains("from_verified(") {
            let rel = path
                .strip_prefix(workspace())
                .unwrap()
                .to_string_lossy()
                .to_string();
            callers.push(rel);
        }
    }
    callers.sort();
    assert_eq!(
        callers, SCOPE_CONSTRUCTORS,
        "TenantScope::from_verified is called outside the listed verifiers"
    );
    // The test-only constructor is defined in scope.rs and used by tests only.
    for (path, code) in sources() {
        if !path.ends_with("shared/store/src/scope.rs") {
            assert!(
                !code.contains("for_tests("),
                "{} uses the test-only scope constructor",
                path.display()
            );
        }
    }
}
