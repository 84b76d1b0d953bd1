//! The workspace's architecture, checked on its manifests and sources: which crate may depend
//! on which (ARROWS), no cycle between crates (dev-dependencies included), no import circle
//! between a crate's top-level modules, keys formatted in one module, tenant scopes from the
//! verifiers only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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

/// Every workspace member and the workspace crates it may depend on (normal dependencies).
/// Tests and benches may use more, as long as no cycle forms. A new crate fails the test until
/// it is listed here, in review.
const ARROWS: &[(&str, &[&str])] = &[
    ("domain", &[]),
    // What the service measures: metric names and the helpers (over the `metrics` facade).
    ("telemetry", &[]),
    // Identity and secrets sit on the domain alone.
    ("secrets", &["domain"]),
    // The guarded outbound HTTP client (every URL under the outbound policy) and the roots.
    ("outbound-http", &["domain"]),
    ("auth", &["domain", "outbound-http", "telemetry"]),
    // The use cases, over the ports they define (`app::ports`): never a crate that
    // implements one.
    ("app", &["domain", "auth"]),
    // The store implements app's repository ports; the carriers its carrier port.
    ("store", &["domain", "app", "telemetry"]),
    ("carriers", &["domain", "app", "telemetry"]),
    // The edges: GraphQL (no HTTP), HTTP over it, events in and out.
    ("graphql", &["domain", "auth", "app"]),
    (
        "http-edge",
        &["domain", "auth", "app", "graphql", "telemetry"],
    ),
    ("events", &["domain", "store", "auth", "app", "telemetry"]),
    // The composition root: never an edge that links axum or async-graphql.
    (
        "boot",
        &[
            "domain",
            "store",
            "secrets",
            "auth",
            "app",
            "carriers",
            "events",
            "outbound-http",
            "telemetry",
        ],
    ),
    // Fixtures for tests and benches (a dev-dependency everywhere).
    (
        "testkit",
        &[
            "domain",
            "store",
            "auth",
            "app",
            "boot",
            "events",
            "secrets",
            "graphql",
            "http-edge",
            "outbound-http",
        ],
    ),
    // Tests-only crates.
    ("edge-tests", &[]),
    ("app-tests", &[]),
    ("auth-tests", &[]),
    ("architecture", &[]),
    // The binaries.
    (
        "oms",
        &[
            "domain",
            "store",
            "auth",
            "app",
            "boot",
            "events",
            "graphql",
            "http-edge",
            "outbound-http",
            "telemetry",
        ],
    ),
    ("graphql-function", &["graphql", "http-edge", "boot"]),
    ("webhook-add-order", &["graphql", "http-edge", "boot"]),
    (
        "webhook-shipment-tracker",
        &["graphql", "http-edge", "boot"],
    ),
    ("event-consumer", &["boot", "events"]),
    ("outbox-relay", &["boot", "events"]),
    ("notifier", &["boot", "events"]),
];

/// A member's manifest, read for what this test needs.
struct Manifest {
    dir: String,
    name: String,
    normal: Vec<String>,
    dev: Vec<String>,
}

/// The dependency names listed in one section of a manifest (`name.workspace = true`,
/// `name = { … }` or `name = "…"`).
fn section(manifest: &str, header: &str) -> Vec<String> {
    let Some(body) = manifest.split(&format!("\n{header}\n")).nth(1) else {
        return Vec::new();
    };
    body.split("\n[")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let name = l.split(['.', '=', ' ']).next()?.trim();
            (!name.is_empty()).then(|| name.to_owned())
        })
        .collect()
}

fn members() -> Vec<Manifest> {
    let root = std::fs::read_to_string(workspace().join("Cargo.toml")).unwrap();
    let list = root
        .split("members = [")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap();
    let dirs: Vec<String> = list
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let all: Vec<(String, String)> = dirs
        .iter()
        .map(|d| {
            let text = std::fs::read_to_string(workspace().join(d).join("Cargo.toml")).unwrap();
            (d.clone(), text)
        })
        .collect();
    let name_of = |text: &str| {
        text.split("name = \"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_owned()
    };
    let names: Vec<String> = all.iter().map(|(_, t)| name_of(t)).collect();
    let ours = |deps: Vec<String>| -> Vec<String> {
        deps.into_iter().filter(|d| names.contains(d)).collect()
    };
    all.iter()
        .map(|(dir, text)| Manifest {
            dir: dir.clone(),
            name: name_of(text),
            normal: ours(section(&format!("\n{text}"), "[dependencies]")),
            dev: ours(section(&format!("\n{text}"), "[dev-dependencies]")),
        })
        .collect()
}

#[test]
fn every_crate_depends_only_on_its_listed_arrows() {
    let members = members();
    assert!(
        members.len() >= 20,
        "too few members read: {}",
        members.len()
    );
    for m in &members {
        let allowed = ARROWS
            .iter()
            .find(|(n, _)| *n == m.name)
            .unwrap_or_else(|| panic!("{} ({}) has no entry in ARROWS", m.name, m.dir))
            .1;
        for dep in &m.normal {
            assert!(
                allowed.contains(&dep.as_str()),
                "{} depends on {dep}; it may depend on {allowed:?} only",
                m.name
            );
        }
    }
    for (name, _) in ARROWS {
        assert!(
            members.iter().any(|m| m.name == *name),
            "ARROWS lists {name}, which is no member"
        );
    }
    // Nor through a path the manifest does not show: no source of an edge or of `auth` names
    // the storage crate.
    for (path, code) in sources() {
        let rel = path
            .strip_prefix(workspace())
            .unwrap()
            .to_string_lossy()
            .to_string();
        if ["shared/graphql/", "shared/http/", "shared/auth/"]
            .iter()
            .any(|p| rel.starts_with(p))
        {
            assert!(!code.contains("store::"), "{rel} uses the storage crate");
        }
    }
}

/// The cycles of a graph given as (node, successors): each strongly connected component of
/// more than one node, sorted.
fn cycles(graph: &[(String, Vec<String>)]) -> Vec<Vec<String>> {
    // Reachability by search from every node: small graphs only.
    let reach = |from: &str| {
        let mut seen = std::collections::BTreeSet::new();
        let mut stack = vec![from.to_owned()];
        while let Some(n) = stack.pop() {
            for (_, next) in graph.iter().filter(|(g, _)| *g == n) {
                for s in next {
                    if seen.insert(s.clone()) {
                        stack.push(s.clone());
                    }
                }
            }
        }
        seen
    };
    let mut out: Vec<Vec<String>> = Vec::new();
    for (n, _) in graph {
        let from_n = reach(n);
        let mut comp: Vec<String> = graph
            .iter()
            .map(|(m, _)| m.clone())
            .filter(|m| m != n && from_n.contains(m) && reach(m).contains(n))
            .collect();
        if comp.is_empty() {
            continue;
        }
        comp.push(n.clone());
        comp.sort();
        if !out.contains(&comp) {
            out.push(comp);
        }
    }
    out.sort();
    out
}

#[test]
fn no_cycle_between_crates_dev_dependencies_included() {
    let graph: Vec<(String, Vec<String>)> = members()
        .into_iter()
        .map(|m| {
            let mut deps: Vec<String> = m.normal.into_iter().chain(m.dev).collect();
            // A crate's dev-dependency on itself (to turn on a feature for its tests) is no cycle.
            deps.retain(|d| *d != m.name);
            (m.name, deps)
        })
        .collect();
    assert_eq!(cycles(&graph), Vec::<Vec<String>>::new());
}

#[test]
fn the_checks_read_manifests_and_find_cycles_right() {
    let manifest = "\n[package]\nname = \"x\"\n\n[dependencies]\ndomain.workspace = true\nstore = { path = \"../store\" }\n# app.workspace = true\nserde = \"1\"\n\n[dev-dependencies]\napp.workspace = true\n";
    assert_eq!(
        section(manifest, "[dependencies]"),
        ["domain", "store", "serde"]
    );
    assert_eq!(section(manifest, "[dev-dependencies]"), ["app"]);
    let g = |edges: &[(&str, &[&str])]| -> Vec<(String, Vec<String>)> {
        edges
            .iter()
            .map(|(n, s)| ((*n).to_owned(), s.iter().map(|x| (*x).to_owned()).collect()))
            .collect()
    };
    assert!(cycles(&g(&[("a", &["b"]), ("b", &["c"]), ("c", &[])])).is_empty());
    assert_eq!(
        cycles(&g(&[
            ("a", &["b"]),
            ("b", &["c"]),
            ("c", &["a"]),
            ("d", &["a"])
        ])),
        vec![vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]
    );
}

/// The top-level modules of a crate's `src` and the files of each.
fn modules(src: &Path) -> Vec<(String, Vec<PathBuf>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
            if name == "lib" || name == "main" {
                continue;
            }
            let mut files = vec![path.clone()];
            let dir = src.join(&name);
            if dir.is_dir() {
                files.extend(rust_files(&dir));
            }
            out.push((name, files));
        } else if path.is_dir() && path.join("mod.rs").is_file() {
            out.push((name, rust_files(&path)));
        }
    }
    out.sort();
    out
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The sibling top-level modules a file's code (tests excluded) names through `crate::`.
fn named_modules(code: &str, siblings: &[String]) -> Vec<String> {
    let code = code.split("#[cfg(test)]").next().unwrap_or_default();
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            group
                .split('}')
                .next()
                .unwrap_or_default()
                .split(',')
                .map(|p| p.trim().split("::").next().unwrap_or_default())
                .collect()
        } else {
            vec![
                rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or_default(),
            ]
        };
        for n in names {
            if siblings.iter().any(|s| s == n) && !out.iter().any(|o: &String| o == n) {
                out.push(n.to_owned());
            }
        }
    }
    out
}

#[test]
fn no_import_circle_between_a_crates_top_level_modules() {
    let mut found: Vec<(String, Vec<String>)> = Vec::new();
    for m in members() {
        let src = workspace().join(&m.dir).join("src");
        if !src.is_dir() {
            continue;
        }
        let mods = modules(&src);
        let names: Vec<String> = mods.iter().map(|(n, _)| n.clone()).collect();
        let graph: Vec<(String, Vec<String>)> = mods
            .iter()
            .map(|(n, files)| {
                let mut deps = Vec::new();
                for f in files {
                    let code = std::fs::read_to_string(f).unwrap();
                    for d in named_modules(&code, &names) {
                        if d != *n && !deps.contains(&d) {
                            deps.push(d);
                        }
                    }
                }
                (n.clone(), deps)
            })
            .collect();
        for c in cycles(&graph) {
            found.push((m.dir.clone(), c));
        }
    }
    found.sort();
    assert!(
        found.is_empty(),
        "import circles between top-level modules (crate, modules): {found:?}"
    );
}

#[test]
fn module_names_are_read_from_paths_and_groups() {
    let siblings: Vec<String> = ["errors", "views", "schema", "tested"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let code = "use crate::errors::coded;\nuse crate::{views::A, schema::{B, C}};\nuse crate::other;\n#[cfg(test)]\nuse crate::tested;";
    assert_eq!(
        named_modules(code, &siblings),
        ["errors", "views", "schema"]
    );
}
