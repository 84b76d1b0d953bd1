//! `template.yaml` against the code: every variable a function requires is set (and none the
//! code does not know, and no local emulator endpoint); every index the store queries exists
//! with its keys and projection; every route the routers serve is routed; every binary named
//! by `BuildProperties` is a workspace function; and no IAM statement grants `*` actions, or
//! `*` resources where the template knows the ARN.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use boot::lambda::env;
use serde_yaml_ng::Value;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A tagged value (`!Ref X`) as its inner value; anything else as is.
fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => &t.value,
        other => other,
    }
}

fn s(v: &Value) -> Option<&str> {
    untag(v).as_str()
}

/// The functions: binary name → resource.
fn functions(t: &Value) -> BTreeMap<String, (String, Value)> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(name, r)| {
            let binary = s(&r["Metadata"]["BuildProperties"]["Binary"])
                .unwrap_or_else(|| panic!("{name:?} names no binary"))
                .to_owned();
            (binary, (name.as_str().unwrap().to_owned(), r.clone()))
        })
        .collect()
}

fn variables(v: &Value) -> BTreeSet<String> {
    v["Environment"]["Variables"]
        .as_mapping()
        .map(|m| m.keys().map(|k| k.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn every_binary_is_a_workspace_function_and_every_function_is_deployed() {
    let t = template();
    let deployed: BTreeSet<String> = functions(&t).into_keys().collect();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../functions");
    let crates: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(deployed, crates, "template functions vs functions/");
    // cargo-lambda builds each function from its CodeUri: the crate that has the binary.
    for (binary, (name, r)) in functions(&t) {
        let code_uri = s(&r["Properties"]["CodeUri"]).unwrap_or_default();
        assert_eq!(code_uri, format!("functions/{binary}"), "{name}'s CodeUri");
        let manifest = std::fs::read_to_string(format!("{dir}/{binary}/Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!("name = \"{binary}\"")),
            "{name}: functions/{binary} is not the `{binary}` crate"
        );
    }
    let required: BTreeSet<String> = env::REQUIRED.iter().map(|(b, _)| (*b).to_owned()).collect();
    assert_eq!(
        required, crates,
        "boot::lambda::env::REQUIRED lists every function"
    );
}

#[test]
fn every_variable_a_function_requires_is_set_and_nothing_unknown_is() {
    let t = template();
    let global = variables(&t["Globals"]["Function"]);
    let known: BTreeSet<&str> = env::REQUIRED
        .iter()
        .flat_map(|(_, vars)| vars.iter().copied())
        .chain(env::OPTIONAL.iter().copied())
        .collect();
    for (binary, (name, r)) in functions(&t) {
        let mut set = global.clone();
        set.extend(variables(&r["Properties"]));
        let required = env::REQUIRED
            .iter()
            .find(|(b, _)| *b == binary)
            .map(|(_, v)| *v)
            .unwrap();
        for var in required {
            assert!(
                set.contains(*var),
                "{name} ({binary}) requires {var}, the template does not set it"
            );
        }
        for var in &set {
            assert!(
                known.contains(var.as_str()),
                "{name} sets {var}, which no code reads"
            );
            assert!(
                !env::LOCAL_ONLY.contains(&var.as_str()),
                "{name} sets the local-only {var}"
            );
        }
    }
}

#[test]
fn every_index_the_store_queries_exists_with_its_keys_and_projection() {
    let t = template();
    let table = &t["Resources"]["Table"]["Properties"];
    let gsis = table["GlobalSecondaryIndexes"].as_sequence().unwrap();
    for index in store::schema::Index::ALL {
        let gsi = gsis
            .iter()
            .find(|g| g["IndexName"] == index.name())
            .unwrap_or_else(|| panic!("index {} missing", index.name()));
        let keys: Vec<(&str, &str)> = gsi["KeySchema"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["AttributeName"].as_str().unwrap(),
                    k["KeyType"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            keys,
            [(index.pk_attr(), "HASH"), (index.sk_attr(), "RANGE")],
            "{}",
            index.name()
        );
        let projected: Vec<&str> = gsi["Projection"]["NonKeyAttributes"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(projected, index.projection(), "{} projection", index.name());
    }
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"],
        store::schema::TTL
    );
    assert_eq!(table["StreamSpecification"]["StreamViewType"], "NEW_IMAGE");
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
}

#[test]
fn every_route_the_routers_serve_is_routed_to_a_function() {
    let t = template();
    let mut routed = BTreeSet::new();
    for (_, (_, r)) in functions(&t) {
        for (_, e) in r["Properties"]["Events"].as_mapping().into_iter().flatten() {
            if e["Type"] == "HttpApi" {
                let p = &e["Properties"];
                routed.insert((
                    s(&p["Method"]).unwrap().to_owned(),
                    s(&p["Path"]).unwrap().to_owned(),
                ));
            }
        }
    }
    let served: BTreeSet<(String, String)> = api::http::PUBLIC_ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(routed, served);
}

/// Every IAM statement of the template (inline function policies and resource policies).
fn statements(v: &Value, out: &mut Vec<Value>) {
    match untag(v) {
        Value::Mapping(m) => {
            if let Some(st) = m.get("Statement") {
                for s in st.as_sequence().into_iter().flatten() {
                    out.push(s.clone());
                }
            }
            for (_, child) in m {
                statements(child, out);
            }
        }
        Value::Sequence(items) => items.iter().for_each(|i| statements(i, out)),
        _ => {}
    }
}

fn strings(v: &Value) -> Vec<String> {
    match untag(v) {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        // A !GetAtt / !Sub / !Ref: the template knows the ARN.
        Value::Mapping(_) => vec!["<arn>".into()],
        _ => Vec::new(),
    }
}

#[test]
fn no_statement_grants_every_action_or_every_resource() {
    let t = template();
    let mut all = Vec::new();
    statements(&t["Resources"], &mut all);
    assert!(all.len() >= 10, "found {} statements", all.len());
    for st in &all {
        for action in strings(&st["Action"]) {
            assert!(!action.contains('*'), "a wildcard action: {st:?}");
        }
        for resource in strings(&st["Resource"]) {
            assert!(resource != "*", "a wildcard resource: {st:?}");
        }
        if let Some(sub) = st["Resource"].as_str() {
            assert!(!sub.ends_with(":*"), "{st:?}");
        }
    }
}
