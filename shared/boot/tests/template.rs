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
    let served: BTreeSet<(String, String)> = http_edge::PUBLIC_ROUTES
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

/// What a role may do with secrets, as `(statement id, action, resource)`.
fn secret_grants(t: &Value) -> Vec<(String, String, String)> {
    let mut all = Vec::new();
    statements(&t["Resources"], &mut all);
    let mut out = Vec::new();
    for st in &all {
        let actions = strings(&st["Action"]);
        if !actions.iter().any(|a| a.starts_with("secretsmanager:")) {
            continue;
        }
        let sid = s(&st["Sid"]).unwrap_or("?").to_owned();
        let resources: Vec<String> = match untag(&st["Resource"]) {
            Value::Sequence(items) => items
                .iter()
                .map(|r| s(r).unwrap_or("<not a !Sub>").to_owned())
                .collect(),
            r => vec![s(r).unwrap_or("<not a !Sub>").to_owned()],
        };
        for action in actions {
            for resource in &resources {
                out.push((sid.clone(), action.clone(), resource.clone()));
            }
        }
    }
    out
}

/// The problems of the template's secret grants: every one must be on the stage's own prefix
/// (the one the functions are told to use), so no stage's role reaches another stage's secrets.
fn stage_isolation_problems(t: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let prefix = s(&t["Globals"]["Function"]["Environment"]["Variables"][env::SECRETS_PREFIX])
        .unwrap_or_default()
        .to_owned();
    if !prefix.contains("${Stage}") {
        problems.push(format!(
            "{} is `{prefix}`: it does not name the stage",
            env::SECRETS_PREFIX
        ));
    }
    let grants = secret_grants(t);
    if grants.is_empty() {
        problems.push("no statement grants any secret".into());
    }
    let own = format!(
        "arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{prefix}/*"
    );
    for (sid, action, resource) in grants {
        if resource != own {
            problems.push(format!("{sid}: {action} on `{resource}`, not `{own}`"));
        }
    }
    problems
}

#[test]
fn every_role_reaches_only_its_own_stages_secrets() {
    let t = template();
    assert_eq!(stage_isolation_problems(&t), Vec::<String>::new());
    assert_eq!(
        secret_grants(&t)
            .iter()
            .filter(|(_, a, _)| a == "secretsmanager:GetSecretValue")
            .count(),
        4,
        "graphql, both webhooks and the event consumer read secrets"
    );
    // The check itself: the old stage-less prefix, or one role granted another prefix, fails.
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"))
        .unwrap();
    let stageless: Value =
        serde_yaml_ng::from_str(&text.replace("tenantoms/${Stage}", "tenantoms")).unwrap();
    let problems = stage_isolation_problems(&stageless);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("does not name the stage"),
        "{problems:?}"
    );
    let widened: Value = serde_yaml_ng::from_str(&text.replacen(
        "secret:tenantoms/${Stage}/*",
        "secret:tenantoms/*",
        1,
    ))
    .unwrap();
    let problems = stage_isolation_problems(&widened);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("secret:tenantoms/*"), "{problems:?}");
}

/// The documented route throttles (README: Throttling): the template's defaults may be higher,
/// never lower. API Gateway counts them before any function runs, for every tenant together.
const DOCUMENTED_THROTTLES: &[(&str, f64)] = &[
    ("GraphqlRateLimit", 5000.0),
    ("GraphqlBurstLimit", 5000.0),
    ("WebhookRateLimit", 2000.0),
    ("WebhookBurstLimit", 2000.0),
];

/// A throttle setting's value: a number, or a `!Ref` to a parameter's default.
fn throttle(t: &Value, v: &Value) -> Option<f64> {
    match v {
        Value::Tagged(tag) if tag.tag == "!Ref" => {
            let param = tag.value.as_str()?;
            untag(&t["Parameters"][param]["Default"]).as_f64()
        }
        other => untag(other).as_f64(),
    }
}

/// The problems of the template's throttles: each route (the default and every override) has
/// both settings, none below the documented default of its kind.
fn throttle_problems(t: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let documented = |name: &str| {
        DOCUMENTED_THROTTLES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    };
    for (param, floor) in DOCUMENTED_THROTTLES {
        match untag(&t["Parameters"][*param]["Default"]).as_f64() {
            Some(d) if d >= *floor => {}
            other => problems.push(format!("{param} defaults to {other:?}, below {floor}")),
        }
    }
    let api = &t["Resources"]["HttpApi"]["Properties"];
    let mut routes = vec![(
        "default".to_owned(),
        api["DefaultRouteSettings"].clone(),
        ("WebhookRateLimit", "WebhookBurstLimit"),
    )];
    for (route, settings) in api["RouteSettings"].as_mapping().into_iter().flatten() {
        let route = route.as_str().unwrap_or_default().to_owned();
        let kinds = if route.contains("/graphql") {
            ("GraphqlRateLimit", "GraphqlBurstLimit")
        } else {
            ("WebhookRateLimit", "WebhookBurstLimit")
        };
        routes.push((route, settings.clone(), kinds));
    }
    if !routes.iter().any(|(r, _, _)| r == "POST /graphql") {
        problems.push("POST /graphql has no throttle of its own".into());
    }
    for (route, settings, (rate, burst)) in routes {
        for (field, kind) in [
            ("ThrottlingRateLimit", rate),
            ("ThrottlingBurstLimit", burst),
        ] {
            let floor = documented(kind).unwrap_or(f64::INFINITY);
            match throttle(t, &settings[field]) {
                Some(v) if v >= floor => {}
                v => problems.push(format!("{route}: {field} is {v:?}, below {floor}")),
            }
        }
    }
    problems
}

#[test]
fn no_route_throttle_is_below_its_documented_default() {
    let t = template();
    assert_eq!(throttle_problems(&t), Vec::<String>::new());
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    for (param, value) in DOCUMENTED_THROTTLES {
        assert!(
            readme.contains(&format!("| `{param}` | {value} |")),
            "README's throttle table names {param} = {value}"
        );
    }
    // The check itself: the old 100 req/s default fails.
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"))
        .unwrap();
    let old: Value = serde_yaml_ng::from_str(&text.replace(
        "ThrottlingRateLimit: !Ref WebhookRateLimit",
        "ThrottlingRateLimit: 100",
    ))
    .unwrap();
    let problems = throttle_problems(&old);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("default: ThrottlingRateLimit"),
        "{problems:?}"
    );
}

/// Who may put events on the bus: the outbox relay's role, and the accounts of the resource
/// policy `oms events bus-policy` writes from the registry (each only its registered sources;
/// tested in the domain). The template itself opens the bus to nobody else: no bus policy
/// resource, no `Policy` on the bus, `events:PutEvents` in one role only.
#[test]
fn only_the_relay_puts_events_and_the_bus_policy_is_the_registrys() {
    let t = template();
    let resources = t["Resources"].as_mapping().unwrap();
    for (name, r) in resources {
        assert_ne!(
            r["Type"], "AWS::Events::EventBusPolicy",
            "{name:?}: the bus policy comes from `oms events bus-policy`"
        );
    }
    assert!(
        t["Resources"]["EventBus"]["Properties"]["Policy"].is_null(),
        "the bus carries no policy of the template's"
    );
    let mut putters = Vec::new();
    for (name, r) in resources {
        let mut all = Vec::new();
        statements(r, &mut all);
        if all.iter().any(|st| {
            strings(&st["Action"])
                .iter()
                .any(|a| a == "events:PutEvents")
        }) {
            putters.push(name.as_str().unwrap().to_owned());
        }
    }
    assert_eq!(putters, ["OutboxRelayFunction"]);
    // Our source reaches the notifications only; the tenants' rule never takes it.
    let events = &t["Resources"]["EventConsumerFunction"]["Properties"]["Events"];
    assert_eq!(
        events["TenantEvents"]["Properties"]["Pattern"]["source"][0]["anything-but"][0],
        "tenantoms"
    );
    assert!(
        !t["Outputs"]["EventBusArn"].is_null(),
        "the ARN the command needs"
    );
}

/// Notifications go through a queue, never an invocation per event: the rule takes only this
/// account's `tenantoms` events to the queue, the notifier consumes it with a bounded
/// concurrency (a parameter, at least SQS's 2), reports failures per message, and the queue's
/// redrive policy ends a notification in its dead-letter queue after the attempts the notifier
/// is told of. No function is invoked by EventBridge for our own events.
#[test]
fn notifications_are_queued_bounded_and_dead_lettered() {
    let t = template();
    let r = &t["Resources"];
    let rule = &r["NotificationsRule"]["Properties"];
    assert_eq!(rule["EventPattern"]["source"][0], "tenantoms");
    assert_eq!(
        s(&rule["EventPattern"]["account"][0]),
        Some("AWS::AccountId")
    );
    assert_eq!(
        s(&rule["Targets"][0]["Arn"]),
        Some("NotificationsQueue.Arn"),
        "the rule targets the queue"
    );
    let queue = &r["NotificationsQueue"]["Properties"];
    assert_eq!(
        s(&queue["RedrivePolicy"]["deadLetterTargetArn"]),
        Some("NotificationsDLQ.Arn")
    );
    assert_eq!(
        s(&queue["RedrivePolicy"]["maxReceiveCount"]),
        Some("NotificationMaxAttempts")
    );
    let notifier = &r["NotifierFunction"]["Properties"];
    assert_eq!(
        s(&notifier["Environment"]["Variables"][env::NOTIFY_MAX_ATTEMPTS]),
        Some("NotificationMaxAttempts"),
        "the notifier knows which attempt is the last"
    );
    let timeout = notifier["Timeout"].as_i64().unwrap();
    let visibility = queue["VisibilityTimeout"].as_i64().unwrap();
    assert!(visibility >= 6 * timeout, "{visibility} < 6 × {timeout}");
    let source = &notifier["Events"]["Notifications"]["Properties"];
    assert_eq!(notifier["Events"]["Notifications"]["Type"], "SQS");
    assert_eq!(s(&source["Queue"]), Some("NotificationsQueue.Arn"));
    assert_eq!(
        source["FunctionResponseTypes"][0],
        "ReportBatchItemFailures"
    );
    assert_eq!(
        s(&source["ScalingConfig"]["MaximumConcurrency"]),
        Some("NotifierMaxConcurrency")
    );
    let param = &t["Parameters"]["NotifierMaxConcurrency"];
    assert!(param["MinValue"].as_i64().unwrap() >= 2);
    assert!(param["Default"].as_i64().unwrap() >= 2);
    // No EventBridge rule invokes a function with our source.
    for (binary, (name, f)) in functions(&t) {
        for (_, e) in f["Properties"]["Events"].as_mapping().into_iter().flatten() {
            if e["Type"] == "EventBridgeRule" {
                let src = &e["Properties"]["Pattern"]["source"][0];
                assert!(
                    src != "tenantoms" && !src["anything-but"].is_null(),
                    "{name} ({binary}) takes our events straight from the bus"
                );
            }
        }
    }
}
