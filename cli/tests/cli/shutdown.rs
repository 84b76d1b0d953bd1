//! A graceful stop: SIGTERM while 50 requests are in flight (each waiting on a slow carrier)
//! answers all 50, then `oms serve` exits 0 — nothing cut off mid-request.

use std::time::Duration;

use carriers::fake::{FakeCarrier, Fault};
use serde_json::json;

use crate::gateway::{KEY_1, confirmed, gateway_setup};
use crate::server::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_every_request_in_flight_then_exits_0() {
    let fake = FakeCarrier::easypost(KEY_1).await;
    let mut s = Server::start_serving(gateway_setup(&fake), &[]);
    let staff = s.token("demo", "staff", None);
    let (order, sid) = confirmed(&s, &staff).await;
    for _ in 0..50 {
        fake.fail_next(Fault::DelayThenDo(Duration::from_millis(1500)));
    }
    let before = fake.requests().len();
    let query = format!(
        r#"{{ shippingRates(orderId: "{order}", shipmentId: "{sid}", gateway: "easypost", account: "main") {{ rates {{ id }} }} }}"#
    );
    let client = reqwest::Client::new();
    let url = format!("{}/graphql", s.base());
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let (client, url, token) = (client.clone(), url.clone(), staff.clone());
            let body = json!({ "query": query }).to_string();
            tokio::spawn(async move {
                let r = client
                    .post(url)
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                let status = r.status();
                let body: serde_json::Value = r.json().await?;
                Ok::<_, reqwest::Error>((status, body))
            })
        })
        .collect();
    // All 50 have reached the carrier (and wait there) before the signal.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while fake.requests().len() < before + 50 {
        assert!(
            std::time::Instant::now() < deadline,
            "the 50 never all reached the carrier"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut answered = 0;
    for call in calls {
        let (status, body) = call.await.unwrap().expect("answered, not cut off");
        assert_eq!(status, 200, "{body}");
        assert!(
            body["data"]["shippingRates"]["rates"][0]["id"].is_string(),
            "{body}"
        );
        answered += 1;
    }
    assert_eq!(answered, 50);
    let exit = tokio::task::spawn_blocking(move || s.wait()).await.unwrap();
    assert_eq!(exit.code(), Some(0), "{exit:?}");
}
