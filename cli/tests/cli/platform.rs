//! Onboarding while the service runs: `oms tenant|plan|idp` reach a running `oms serve` through
//! its platform API (the server holds the store), platform tokens do the same over GraphQL, and
//! the two kinds of token never cross: a tenant's token cannot run platform operations, a
//! platform token reads no tenant data.

use serde_json::{Value, json};

use crate::server::{Server, create_order_mutation, oms, order_input};

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(out: &std::process::Output) -> String {
    assert!(
        !out.status.success(),
        "expected a refusal, got: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const VIEWER: &str = "{ viewer { tenant permissions } }";

#[tokio::test]
async fn the_admin_cli_onboards_suspends_and_replans_through_the_running_server() {
    let server = Server::start(&[]);
    let dir = server.dir.path();

    let created = ok(&oms(dir, &["tenant", "create", "acme", "--name", "Acme"]));
    assert!(
        created.contains("created tenant acme (Acme) on plan demo"),
        "{created}"
    );
    let plan = ok(&oms(
        dir,
        &["plan", "set", "gold", "--operations", "viewer,orders"],
    ));
    assert!(plan.contains("plan gold permits 2 operations"), "{plan}");
    ok(&oms(dir, &["tenant", "create", "beta", "--plan", "gold"]));

    // Refusals come back as clear errors, not as success.
    let again = refused(&oms(dir, &["tenant", "create", "acme"]));
    assert!(again.contains("tenant acme already exists"), "{again}");
    let no_plan = refused(&oms(dir, &["tenant", "create", "zeta", "--plan", "nope"]));
    assert!(no_plan.contains("no plan nope"), "{no_plan}");
    let bad_op = refused(&oms(dir, &["plan", "set", "x", "--operations", "fly"]));
    assert!(bad_op.contains("unknown operation"), "{bad_op}");
    let platform_op = refused(&oms(
        dir,
        &["plan", "set", "x", "--operations", "createTenant"],
    ));
    assert!(platform_op.contains("platform operation"), "{platform_op}");

    // beta's users have the gold plan's permissions: viewer and orders, nothing else.
    let beta = server.token("beta", "staff", None);
    let viewer = server.gql(&beta, VIEWER, json!({})).await;
    assert_eq!(viewer.data()["viewer"]["tenant"], "beta", "{}", viewer.raw);
    assert_eq!(
        viewer.data()["viewer"]["permissions"],
        json!(["viewer", "orders"]),
        "{}",
        viewer.raw
    );

    // Suspended through the CLI while the server runs: acme's token is refused.
    let suspended = ok(&oms(dir, &["tenant", "suspend", "acme"]));
    assert!(suspended.contains("suspended tenant acme"), "{suspended}");
    let acme = server.token("acme", "staff", None);
    let refused_reply = server.gql(&acme, VIEWER, json!({})).await;
    assert_eq!(refused_reply.status, 403, "{}", refused_reply.raw);
    assert_eq!(refused_reply.code(), Some("TENANT_SUSPENDED"));

    let list = ok(&oms(dir, &["tenant", "list"]));
    let line = |id: &str| {
        list.lines()
            .find(|l| l.starts_with(&format!("{id}\t")))
            .unwrap_or_else(|| panic!("{id} not listed: {list}"))
            .to_owned()
    };
    assert!(line("acme").contains("Suspended"), "{list}");
    assert!(line("beta").contains("plan=gold"), "{list}");
    assert!(line("demo").contains("Active"), "{list}");
    let show = ok(&oms(dir, &["tenant", "show", "acme"]));
    let shown: Value = serde_json::from_str(&show).unwrap();
    assert_eq!(shown["status"], "SUSPENDED", "{show}");

    // An IdP registration through the server: the dev IdP's, from a file, replaces itself.
    let idp_file = dir.join("idp.json");
    let registration = auth::dev::DevIdp::load_or_generate(dir)
        .unwrap()
        .registration()
        .unwrap();
    std::fs::write(&idp_file, serde_json::to_vec(&registration).unwrap()).unwrap();
    let idp = ok(&oms(
        dir,
        &["idp", "set", "beta", "--file", idp_file.to_str().unwrap()],
    ));
    assert!(
        idp.contains("tenant beta now accepts tokens from 1 issuer(s)"),
        "{idp}"
    );

    // Event sources too go through the running server (its admin socket).
    let source = ok(&oms(
        dir,
        &[
            "events",
            "source",
            "set",
            "--tenant",
            "beta",
            "--account",
            "123456789012",
            "--source",
            "com.beta.orders",
        ],
    ));
    assert_eq!(
        source,
        "tenant beta now takes events from 123456789012/com.beta.orders (1 source(s) registered)\n"
    );

    // The SaaS audit names each action and the CLI's user as the actor.
    let admin = server.token("demo", "platform-admin", None);
    let audit = server
        .gql(
            &admin,
            "{ saasAudit(first: 50) { nodes { action actor targetId } } }",
            json!({}),
        )
        .await;
    let actions: Vec<(String, String)> = audit.data()["saasAudit"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", audit.raw))
        .iter()
        .map(|n| {
            (
                n["action"].as_str().unwrap().to_owned(),
                n["targetId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (action, target) in [
        ("createTenant", "acme"),
        ("setPlan", "gold"),
        ("createTenant", "beta"),
        ("suspendTenant", "acme"),
        ("setTenantIdp", "beta"),
    ] {
        assert!(
            actions.contains(&(action.to_owned(), target.to_owned())),
            "{action} {target} not in {actions:?}"
        );
    }
    let actors: Vec<&str> = audit.data()["saasAudit"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["targetId"] == "acme")
        .map(|n| n["actor"].as_str().unwrap())
        .collect();
    assert!(actors.iter().all(|a| a.starts_with("cli:")), "{actors:?}");
}

const TENANT: &str = "id name status plan shards idps { issuer }";

#[tokio::test]
async fn platform_tokens_run_the_platform_api_and_read_no_tenant_data() {
    let server = Server::start(&[]);
    let admin = server.token("demo", "platform-admin", None);
    let staff = server.token("demo", "staff", None);
    let tenant_admin = server.token("demo", "tenant-admin", None);

    // A tenant's own tokens, even its admin's, cannot run platform operations.
    let create = format!(
        "mutation($input: CreateTenantInput!) {{ createTenant(input: $input) {{ tenant {{ {TENANT} }} userErrors {{ code message }} }} }}"
    );
    for token in [&staff, &tenant_admin] {
        let r = server
            .gql(
                token,
                &create,
                json!({ "input": { "id": "mallory", "plan": "demo" } }),
            )
            .await;
        assert_eq!(r.code(), Some("FORBIDDEN"), "{}", r.raw);
        let r = server
            .gql(token, "{ tenants { nodes { id } } }", json!({}))
            .await;
        assert_eq!(r.code(), Some("FORBIDDEN"), "{}", r.raw);
    }

    // The platform admin onboards, re-plans and suspends.
    let set_plan = server
        .gql(
            &admin,
            "mutation { setPlan(name: \"silver\", operations: [\"viewer\"]) { plan { name operations } userErrors { code message } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        set_plan.data()["setPlan"]["plan"]["operations"],
        json!(["viewer"]),
        "{}",
        set_plan.raw
    );
    let mut ids = Vec::new();
    for id in ["t-a", "t-b", "t-c", "t-d", "t-e"] {
        let r = server
            .gql(
                &admin,
                &create,
                json!({ "input": { "id": id, "plan": "demo" } }),
            )
            .await;
        assert_eq!(r.data()["createTenant"]["tenant"]["id"], id, "{}", r.raw);
        assert_eq!(r.data()["createTenant"]["tenant"]["status"], "ACTIVE");
        ids.push(id.to_owned());
    }
    let bad = server
        .gql(
            &admin,
            &create,
            json!({ "input": { "id": "Not An Id", "plan": "demo" } }),
        )
        .await;
    assert_eq!(
        bad.data()["createTenant"]["userErrors"][0]["code"],
        "INVALID_INPUT",
        "{}",
        bad.raw
    );
    let replan = server
        .gql(
            &admin,
            &format!("mutation {{ setTenantPlan(id: \"t-a\", plan: \"silver\") {{ tenant {{ {TENANT} }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(
        replan.data()["setTenantPlan"]["tenant"]["plan"],
        "silver",
        "{}",
        replan.raw
    );
    let t_b = server.token("t-b", "staff", None);
    let suspend = server
        .gql(
            &admin,
            &format!("mutation {{ suspendTenant(id: \"t-b\") {{ tenant {{ {TENANT} }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(
        suspend.data()["suspendTenant"]["tenant"]["status"],
        "SUSPENDED"
    );
    let r = server.gql(&t_b, VIEWER, json!({})).await;
    assert_eq!(r.code(), Some("TENANT_SUSPENDED"), "{}", r.raw);
    let t_a = server.token("t-a", "staff", None);
    let r = server.gql(&t_a, VIEWER, json!({})).await;
    assert_eq!(
        r.data()["viewer"]["permissions"],
        json!(["viewer"]),
        "{}",
        r.raw
    );

    // tenants: a connection; three pages of 2 return every tenant once, in id order.
    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let r = server
            .gql(
                &admin,
                "query($after: String) { tenants(first: 2, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }",
                json!({ "after": after }),
            )
            .await;
        let conn = &r.data()["tenants"];
        pages += 1;
        for e in conn["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", r.raw))
        {
            assert!(e["cursor"].is_string());
            seen.push(e["node"]["id"].as_str().unwrap().to_owned());
        }
        if conn["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    let mut want = ids.clone();
    want.push("demo".into());
    want.sort();
    assert_eq!(seen, want);
    assert_eq!(pages, 3);
    let one = server
        .gql(
            &admin,
            &format!("{{ tenant(id: \"t-c\") {{ {TENANT} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(one.data()["tenant"]["id"], "t-c", "{}", one.raw);
    let none = server
        .gql(&admin, "{ tenant(id: \"nobody\") { id } }", json!({}))
        .await;
    assert!(none.data()["tenant"].is_null(), "{}", none.raw);

    // Platform tokens read no tenant data: every tenant read and command is FORBIDDEN.
    let order = crate::server::create(&server, &staff, None, &[("A", "v1", 1, "5.00")]).await;
    let id = order["id"].as_str().unwrap().to_owned();
    for query in [
        format!("{{ order(id: \"{id}\") {{ id }} }}"),
        "{ orderByExternalRef(externalRef: \"x\") { id } }".to_owned(),
        "{ orders { nodes { id } } }".to_owned(),
        format!("{{ orderAuditLog(orderId: \"{id}\") {{ nodes {{ id }} }} }}"),
        "{ auditLog { nodes { id } } }".to_owned(),
        "{ tenantConfig { version } }".to_owned(),
        "{ carrierCredentials { id } }".to_owned(),
        "{ viewer { tenant } }".to_owned(),
    ] {
        let r = server.gql(&admin, &query, json!({})).await;
        assert_eq!(r.code(), Some("FORBIDDEN"), "{query}: {}", r.raw);
        assert!(!r.raw.contains("v1"), "{query} leaked: {}", r.raw);
    }
    let r = server
        .gql(
            &admin,
            &create_order_mutation(),
            order_input(None, &[("A", "v1", 1, "5.00")]),
        )
        .await;
    assert!(
        r.code() == Some("FORBIDDEN")
            || r.data()["createOrder"]["userErrors"][0]["code"] == "FORBIDDEN",
        "{}",
        r.raw
    );
}
