//! GraphiQL without the internet: `oms serve` (dev) serves the page and every asset it needs
//! itself (the npm packages' production builds, embedded); headless Debian Chromium renders it
//! from localhost with background networking off, and the DOM holds GraphiQL's editor. `make
//! test` installs Chromium when it is missing; without it this test fails, never skips.

use std::process::Command;

use crate::server::Server;

/// The page's DOM after Chromium ran its scripts.
pub(crate) fn dump_dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
            &format!("--user-data-dir={}", profile.path().display()),
            "--dump-dom",
            url,
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!("chromium (Debian's, `make test` installs it) did not run: {e}")
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_renders_from_assets_served_by_oms_alone() {
    let s = Server::start(&[]);
    let client = reqwest::Client::new();
    let page = client
        .get(format!("{}/graphql", s.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    // Nothing the page loads is elsewhere: every src and href is one of ours.
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            assert!(part.starts_with("/graphiql/assets/"), "{attr}{part}");
        }
    }
    for asset in [
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
    ] {
        let r = client
            .get(format!("{}/graphiql/assets/{asset}", s.base()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{asset}");
        assert!(r.bytes().await.unwrap().len() > 10_000, "{asset}");
    }
    let missing = client
        .get(format!("{}/graphiql/assets/nothing.js", s.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let base = s.base();
    let dom = tokio::task::spawn_blocking(move || dump_dom(&format!("{base}/graphql")))
        .await
        .unwrap();
    assert!(dom.contains("graphiql-container"), "{dom}");
    assert!(dom.contains("CodeMirror"), "the query editor: {dom}");
    assert!(!dom.contains("Loading GraphiQL"), "the scripts ran: {dom}");
}
