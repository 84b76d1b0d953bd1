//! A commit whose response is lost is never applied twice. Against DynamoDB Local, with an
//! interceptor that spoils the first successful `TransactWriteItems` response after being armed:
//!
//! - as a 500: the SDK retries the commit that landed, with the same client request token, and
//!   DynamoDB answers the retry as a success;
//! - as a cancellation (what a retry without the token, or after the token's window, gets): the
//!   use case sees a conflict although its write landed, and must read back whether its own
//!   command is the one stored before it runs the command again.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use app::ports::PageRequest;
use app::{App, OrderRef, RequestCtx, SystemIds, UnitOfWork};
use auth::{Caller, Identity};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextMut;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use domain::access::{Plan, Role};
use domain::ids::{ExternalRef, PlanName, Quantity, Sku};
use domain::order::{LineQuantity, NewShipment, ShippingMode};
use domain::{Clock, IdSource, ManualClock};
use store::cursor::{CursorKey, Cursors};
use store::dynamo::{DynamoStore, local_config};
use store::{FixedShards, ItemStore};

/// Spoils the first successful `TransactWriteItems` response after being armed: as a 500, or
/// (with `as_conflict`) as a transaction cancelled on a failed condition.
#[derive(Debug, Default, Clone)]
struct DropOneCommitResponse {
    armed: Arc<AtomicBool>,
    as_conflict: Arc<AtomicBool>,
    dropped: Arc<AtomicUsize>,
    commits_sent: Arc<AtomicUsize>,
}

const CANCELLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed]","CancellationReasons":[{"Code":"ConditionalCheckFailed","Message":"The conditional request failed"}]}"#;

impl Intercept for DropOneCommitResponse {
    fn name(&self) -> &'static str {
        "DropOneCommitResponse"
    }

    fn modify_before_deserialization(
        &self,
        ctx: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let is_commit = cfg
            .load::<Metadata>()
            .is_some_and(|m| m.name() == "TransactWriteItems");
        if !is_commit {
            return Ok(());
        }
        self.commits_sent.fetch_add(1, Ordering::SeqCst);
        let response = ctx.response_mut();
        if response.status().is_success() && self.armed.swap(false, Ordering::SeqCst) {
            if self.as_conflict.load(Ordering::SeqCst) {
                *response.status_mut() = 400u16.try_into()?;
                *response.body_mut() = aws_smithy_types::body::SdkBody::from(CANCELLED);
            } else {
                *response.status_mut() = 500u16.try_into()?;
            }
            self.dropped.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

pub(crate) fn endpoint() -> String {
    std::env::var("OMS_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        let env_file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.services/env");
        std::fs::read_to_string(env_file)
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("OMS_DYNAMODB_ENDPOINT=").map(str::to_owned))
            })
            .expect("DynamoDB Local is not running: run `make test` or scripts/services.sh start")
    })
}

pub(crate) use domain::sample::new_order;

#[tokio::test]
async fn a_lost_commit_response_applies_the_command_once() {
    run_scenario(false).await;
}

#[tokio::test]
async fn a_conflict_after_a_landed_commit_applies_the_command_once() {
    run_scenario(true).await;
}

async fn run_scenario(as_conflict: bool) {
    let dropper = DropOneCommitResponse::default();
    dropper.as_conflict.store(as_conflict, Ordering::SeqCst);
    let conf = local_config(&endpoint())
        .retry_config(
            aws_sdk_dynamodb::config::retry::RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(std::time::Duration::from_millis(5)),
        )
        .interceptor(dropper.clone())
        .build();
    let clock = ManualClock::at(1_795_478_400);
    let table = format!(
        "oms-double-{}-{}-{as_conflict}",
        std::process::id(),
        clock.now_secs()
    );
    let dynamo = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(conf),
        table,
        Arc::new(clock.clone()),
    );
    dynamo.create_table().await.unwrap();
    let store: Arc<dyn ItemStore> = Arc::new(dynamo);
    let ids: Arc<Mutex<dyn IdSource + Send>> = Arc::new(Mutex::new(SystemIds));
    let app = App::new(
        store::repo::repositories(
            store,
            Arc::new(FixedShards::new(1)),
            Cursors::new(CursorKey::from_bytes(&[5; 32]).unwrap()),
        ),
        ids,
        Arc::new(clock.clone()),
    );
    let plan = Plan::everything(PlanName::parse("gold").unwrap());
    let rc = RequestCtx {
        caller: Caller::Tenant(Identity::for_tests(
            "acme",
            "staff-1",
            &[Role::Staff],
            None,
            plan,
        )),
        request_id: "r-1".into(),
    };
    let uow = UnitOfWork::immediate();

    // createOrder with its response lost: one order (its external ref names it once).
    dropper.armed.store(true, Ordering::SeqCst);
    let order = app
        .create_order(&rc, &uow, new_order("ext-1"))
        .await
        .unwrap();
    assert_eq!(
        dropper.dropped.load(Ordering::SeqCst),
        1,
        "the response was dropped"
    );
    let by_ref = app
        .order_by_external_ref(&rc, &ExternalRef::parse("ext-1").unwrap())
        .await
        .unwrap();
    assert_eq!((by_ref.id(), by_ref.version()), (order.id(), 1));

    let on = OrderRef::new(order.id(), None);
    app.approve_order(&rc, &uow, on, None).await.unwrap();
    app.mark_order_paid(&rc, &uow, on, "p-1").await.unwrap();

    // refundOrder with its response lost: one refund, one audit record of it.
    let sent = dropper.commits_sent.load(Ordering::SeqCst);
    dropper.armed.store(true, Ordering::SeqCst);
    let refunded = app
        .refund_order(&rc, &uow, on, "1.00", "goodwill")
        .await
        .unwrap();
    assert_eq!(dropper.dropped.load(Ordering::SeqCst), 2);
    if !as_conflict {
        assert!(
            dropper.commits_sent.load(Ordering::SeqCst) - sent >= 2,
            "the SDK sent the commit again"
        );
    }
    assert_eq!(refunded.refunds().len(), 1);

    // createShipment with its response lost: one shipment.
    dropper.armed.store(true, Ordering::SeqCst);
    let new = NewShipment {
        lines: vec![LineQuantity {
            sku: Sku::parse("A").unwrap(),
            quantity: Quantity::new(1).unwrap(),
        }],
        destination: None,
        packages: Vec::new(),
        mode: ShippingMode::Ground,
        carrier: None,
        pickup: None,
        instructions: None,
        customs: None,
        label_options: Default::default(),
        address_messages: Vec::new(),
    };
    let (shipped, _) = app.create_shipment(&rc, &uow, on, new).await.unwrap();
    assert_eq!(dropper.dropped.load(Ordering::SeqCst), 3);
    assert_eq!(shipped.shipments().len(), 1);

    let now = app.order(&rc, order.id()).await.unwrap();
    assert_eq!(now.refunds().len(), 1, "one refund");
    assert_eq!(now.shipments().len(), 1, "one shipment");
    assert_eq!(now.version(), 5, "create, approve, paid, refund, shipment");
    let audit = app
        .order_audit_log(
            &rc,
            order.id(),
            &PageRequest {
                first: 50,
                after: None,
            },
        )
        .await
        .unwrap();
    let count = |action: &str| audit.rows.iter().filter(|r| r.action == action).count();
    assert_eq!(count("createOrder"), 1);
    assert_eq!(count("refundOrder"), 1, "one audit record of the refund");
    assert_eq!(count("createShipment"), 1);
}
