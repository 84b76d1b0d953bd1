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
const SCOPE_CONSTRUCTORS: &[&str] = &[
    // Service identities: signed webhooks and registered event sources.
    "shared/auth/src/service.rs",
    // The JWT verifier.
    "shared/auth/src/verifier.rs",
    // The definition itself.
    "shared/domain/src/scope.rs",
];

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
    // The test-only constructors exist only with the `test-support` feature, which no crate
    // may enable for its regular (non-dev) dependencies.
    for manifest in [
        "shared/domain",
        "shared/store",
        "shared/auth",
        "shared/app",
        "shared/graphql",
        "shared/http",
        "shared/events",
        "shared/boot",
        "cli",
    ]
    .iter()
    .map(|c| workspace().join(c).join("Cargo.toml"))
    .chain(
        std::fs::read_dir(workspace().join("functions"))
            .unwrap()
            .map(|e| e.unwrap().path().join("Cargo.toml")),
    ) {
        let text = std::fs::read_to_string(&manifest).unwrap();
        let regular = text.split("[dev-dependencies]").next().unwrap_or_default();
        let regular = regular.split("[features]").next().unwrap_or_default();
        assert!(
            !regular.contains("test-support"),
            "{} enables test-support outside dev-dependencies",
            manifest.display()
        );
        // Nor the fake carrier servers.
        assert!(
            !regular.contains("\"fake\""),
            "{} enables the fake carriers outside dev-dependencies",
            manifest.display()
        );
    }
}

/// The workspace crates each library crate may depend on (normal dependencies; tests and
/// benches may use more). Storage sits below the use cases: `auth` and the edges never reach
/// it, they meet it through `domain` ports and `app`.
const LAYERS: &[(&str, &[&str])] = &[
    ("shared/domain", &[]),
    ("shared/store", &["domain"]),
    ("shared/auth", &["domain"]),
    ("shared/app", &["domain", "store", "auth", "carriers"]),
    // The edges: GraphQL (no HTTP), HTTP over it, events.
    ("shared/graphql", &["domain", "auth", "app"]),
    ("shared/http", &["domain", "auth", "app", "graphql"]),
    ("shared/secrets", &["domain"]),
    // The event edge: bus adapters and events in and out, over the use cases.
    ("shared/events", &["domain", "store", "auth", "app"]),
    ("shared/carriers", &["domain"]),
    // The composition root of the functions and the CLI: it wires everything but the HTTP and
    // GraphQL edge (`api`), which the functions that serve it add themselves, so the event
    // functions link neither.
    (
        "shared/boot",
        &["domain", "store", "secrets", "events", "auth", "app"],
    ),
];

const WORKSPACE_CRATES: &[&str] = &[
    "domain",
    "store",
    "auth",
    "app",
    "graphql",
    "http-edge",
    "boot",
    "secrets",
    "events",
    "carriers",
];

/// The workspace crates a manifest lists as normal dependencies.
fn workspace_dependencies(manifest: &str) -> Vec<String> {
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap_or_default()
        .split("\n[")
        .next()
        .unwrap_or_default();
    deps.lines()
        .filter_map(|l| {
            let name = l.split(['.', '=', ' ']).next()?.trim();
            WORKSPACE_CRATES.contains(&name).then(|| name.to_owned())
        })
        .collect()
}

#[test]
fn crates_depend_only_on_the_layers_below() {
    for (dir, allowed) in LAYERS {
        let manifest = std::fs::read_to_string(workspace().join(dir).join("Cargo.toml")).unwrap();
        for dep in workspace_dependencies(&manifest) {
            assert!(
                allowed.contains(&dep.as_str()),
                "{dir} depends on {dep}; it may depend on {allowed:?} only"
            );
        }
    }
    // Nor through a path the manifest does not show: no source of api or auth names store.
    for (path, code) in sources() {
        let rel = path
            .strip_prefix(workspace())
            .unwrap()
            .to_string_lossy()
            .to_string();
        if rel.starts_with("shared/graphql/")
            || rel.starts_with("shared/http/")
            || rel.starts_with("shared/auth/")
        {
            assert!(!code.contains("store::"), "{rel} uses the storage crate");
        }
    }
}

#[test]
fn the_layer_check_reads_manifests_right() {
    let manifest = "[package]\nname = \"x\"\n\n[dependencies]\ndomain.workspace = true\nstore = { path = \"../store\" }\nserde = \"1\"\n\n[dev-dependencies]\napp.workspace = true\n";
    assert_eq!(workspace_dependencies(manifest), ["domain", "store"]);
}

/// template.yaml's table has exactly the indexes and projections `store::schema` describes (the
/// embedded store and the test tables follow the schema; production follows the template).
#[test]
fn the_sam_template_matches_the_schema() {
    use store::schema::Index;
    let template = std::fs::read_to_string(workspace().join("template.yaml")).unwrap();
    for ix in Index::ALL {
        let start = template
            .find(&format!("IndexName: {}", ix.name()))
            .unwrap_or_else(|| panic!("template.yaml lacks index {}", ix.name()));
        let block: String = template[start..]
            .lines()
            .skip(1)
            .take_while(|l| !l.contains("IndexName:"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            block.contains(&format!("AttributeName: {}, KeyType: HASH", ix.pk_attr())),
            "{}",
            ix.name()
        );
        assert!(
            block.contains(&format!("AttributeName: {}, KeyType: RANGE", ix.sk_attr())),
            "{}",
            ix.name()
        );
        let projected: Vec<&str> = block
            .split("NonKeyAttributes:")
            .nth(1)
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .take_while(|l| l.starts_with("- ") || l.is_empty())
            .filter_map(|l| l.strip_prefix("- "))
            .collect();
        assert_eq!(projected, ix.projection(), "projection of {}", ix.name());
    }
    assert!(template.contains("AttributeName: ttl"), "TTL attribute");
}
