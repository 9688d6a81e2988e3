//! Every function's inline IAM policy in `infra/template.yaml` names exactly the DynamoDB
//! actions that function sends, on the table alone: no action a deployed function needs is
//! missing (it would answer 503 on AccessDenied), and none it never sends is granted.
//!
//! There is no AWS account here, so the real handlers run against DynamoDB Local, each
//! function on a client of its own whose SDK interceptor records, for every request it
//! transmits, the IAM actions that request needs and the table it names. The sample event of
//! each function (`events/<function>.json`) drives its handler through the paths that send
//! different requests: successes, retries, refusals and replays; the admitter's ticks admit,
//! void an unused number, drop idle fans, draw a pre-queue lottery, see a sell-out and retire
//! idle queues. The state the paths need (the catalog, balances, a sold seat) is written through
//! an unrecorded client on the same table.
//!
//! IAM authorizes a `TransactWriteItems` per item (Put/Update/Delete/ConditionCheckItem on the
//! item's table; there is no TransactWriteItems action), a `TransactGetItems` per item
//! (GetItem), a batch by its own action on each table it names, and every other operation by
//! the action of its name.

#[allow(dead_code)] // the `with_*` helpers are for the other tests
mod sample;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use serde_json::{json, Value};
use ticketing::booking::{
    Catalog, CreatedPayment, HoldRequest, PaymentProvider, PaymentRequest, Payments, ProviderError,
    RateLimit,
};
use ticketing::domain::{
    ChargeAmount, ConcertDate, ConcertId, ManualClock, QueueToken, ReservationId, SeatNumber,
    Timestamp, UserId, Won,
};
use ticketing::http::App;
use ticketing::lambda::{admit_for_a_minute, MinuteOfAdmission};
use ticketing::metrics::MetricsSink;
use ticketing::store::{
    BalanceChange, BalanceEntryRecord, CommitOutcome, DynamoStore, EntryKind, WalletStore,
};
use ticketing::{Settings, Ticketing};

/// 2027-03-01T00:00:00Z, before the sample events' dates.
const START: i64 = 1_803_859_200;
/// The sample events' concert and date: four seats here, so that it sells out.
const CONCERT: &str = "aurora-nights";
const DATE: &str = "2027-03-20";
/// A concert with a pre-queue: its queue opens at START, its sale 20 seconds later.
const LOTTERY: &str = "han-river-jazz";
/// The binary of the scheduled admission function (no route; it runs the tick).
const ADMITTER: &str = "admit-queue";
/// The webhook's secret, shared by the webhook function and the deliveries signed here.
const WEBHOOK_SECRET: &str = "whsec_policies";

/// Stands in for Stripe: the PaymentIntent a top-up asks for, never a request to the table.
struct FakeStripe;

#[async_trait]
impl PaymentProvider for FakeStripe {
    async fn create_payment(
        &self,
        request: &PaymentRequest,
    ) -> Result<CreatedPayment, ProviderError> {
        Ok(CreatedPayment {
            id: format!("pi_{}", request.top_up_id),
            client_secret: format!("pi_{}_secret", request.top_up_id),
        })
    }
}

fn payments() -> Payments {
    Payments {
        provider: Arc::new(FakeStripe),
        webhook_secret: WEBHOOK_SECRET.into(),
        max_per_day: 10,
    }
}

/// The webhook's sample event with `body`, signed as Stripe signs it at `now`.
fn signed_webhook(body: &Value, now: i64) -> Value {
    let body = body.to_string();
    let mut event = event("stripe-webhook");
    event["headers"]["stripe-signature"] =
        ticketing::stripe::signature::sign(body.as_bytes(), WEBHOOK_SECRET, now).into();
    event["body"] = body.into();
    event
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn catalog() -> Catalog {
    Catalog::from_json(
        r#"{"concerts": [
            {"concertId": "aurora-nights", "title": "Aurora Nights", "dates": ["2027-03-20"],
             "seatPrices": [{"fromSeat": 1, "toSeat": 4, "price": 50000}]},
            {"concertId": "han-river-jazz", "title": "Han River Jazz", "dates": ["2027-04-10"],
             "seatPrices": [{"fromSeat": 1, "toSeat": 2, "price": 88000}],
             "queueOpensAt": "2027-03-01T00:00:00Z", "saleOpensAt": "2027-03-01T00:00:20Z"}
        ]}"#,
    )
    .expect("the test catalog is valid")
}

/// One `admit_for_a_minute` is one tick: the next would be due a minute later.
fn settings() -> Settings {
    Settings {
        admit_tick_seconds: 60,
        ..Settings::default()
    }
}

// ------------------------------------------------------------------------------- recording

/// One IAM action a request needs, on the table it names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Sent {
    action: String,
    table: String,
}

/// An SDK interceptor recording what every transmitted request (retries included) needs IAM
/// to allow.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Sent>>>);

impl Recorder {
    fn sent(&self) -> Vec<Sent> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "PolicyRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|target| target.rsplit('.').next())
            .unwrap_or("<no x-amz-target>")
            .to_owned();
        let body: Value = request
            .body()
            .bytes()
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .unwrap_or_default();
        let needed = authorized_as(&operation, &body);
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(needed);
        Ok(())
    }
}

/// The actions IAM authorizes a request by, each with the table it is checked on.
fn authorized_as(operation: &str, body: &Value) -> Vec<Sent> {
    let table = |request: &Value| {
        request["TableName"]
            .as_str()
            .unwrap_or("<no TableName>")
            .to_owned()
    };
    let per_item = |kinds: &[(&str, &str)]| -> Vec<Sent> {
        let items = body["TransactItems"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        items
            .iter()
            .map(|item| {
                let Some((kind, request)) = item.as_object().and_then(|o| o.iter().next()) else {
                    return Sent {
                        action: format!("<{operation} item without a kind>"),
                        table: String::new(),
                    };
                };
                let action = kinds
                    .iter()
                    .find(|(k, _)| k == kind)
                    .map(|(_, action)| format!("dynamodb:{action}"))
                    .unwrap_or_else(|| format!("<{operation} item of unknown kind {kind}>"));
                Sent {
                    action,
                    table: table(request),
                }
            })
            .collect()
    };
    match operation {
        "TransactWriteItems" => per_item(&[
            ("Put", "PutItem"),
            ("Update", "UpdateItem"),
            ("Delete", "DeleteItem"),
            ("ConditionCheck", "ConditionCheckItem"),
        ]),
        "TransactGetItems" => per_item(&[("Get", "GetItem")]),
        "BatchGetItem" | "BatchWriteItem" => {
            let tables: Vec<String> = body["RequestItems"]
                .as_object()
                .map(|tables| tables.keys().cloned().collect())
                .unwrap_or_default();
            tables
                .into_iter()
                .map(|table| Sent {
                    action: format!("dynamodb:{operation}"),
                    table,
                })
                .collect()
        }
        _ => vec![Sent {
            action: format!("dynamodb:{operation}"),
            table: table(body),
        }],
    }
}

// ------------------------------------------------------------------------------- the template

fn template() -> serde_yaml::Value {
    let path = root().join("infra/template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The function resources of the template, by the binary each is built from.
fn template_functions(template: &serde_yaml::Value) -> BTreeMap<String, serde_yaml::Value> {
    let resources = template["Resources"].as_mapping().expect("Resources");
    resources
        .iter()
        .filter(|(_, resource)| resource["Type"] == "AWS::Serverless::Function")
        .map(|(name, resource)| {
            let binary = resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| panic!("{name:?} names no Metadata.BuildProperties.Binary"));
            (binary.to_owned(), resource.clone())
        })
        .collect()
}

/// The DynamoDB actions a function resource's policies allow. Every statement must be an inline
/// Allow on the table alone (`!GetAtt Table.Arn`): no SAM policy template, managed policy, other
/// resource or other service, whose grants this test could not hold to what is sent.
fn granted(binary: &str, resource: &serde_yaml::Value) -> BTreeSet<String> {
    let table_arn = serde_yaml::Value::Tagged(Box::new(serde_yaml::value::TaggedValue {
        tag: serde_yaml::value::Tag::new("GetAtt"),
        value: "Table.Arn".into(),
    }));
    let policies = resource["Properties"]["Policies"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{binary}: Policies is not a list of inline policies"));
    let mut actions = BTreeSet::new();
    for policy in policies {
        let statements = policy["Statement"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{binary}: a policy that is no inline document: {policy:?}"));
        for statement in statements {
            assert_eq!(
                statement["Effect"], "Allow",
                "{binary}: only Allow statements are expected: {statement:?}"
            );
            // The two functions that move money read the Stripe secrets at start, those two
            // secrets only; every other grant is on the table.
            if statement["Action"]
                .as_sequence()
                .is_some_and(|a| a.len() == 1 && a[0] == "secretsmanager:GetSecretValue")
            {
                assert!(
                    ["charge-balance", "stripe-webhook"].contains(&binary),
                    "{binary} reads no secret"
                );
                let named = serde_yaml::to_string(&statement["Resource"]).unwrap();
                assert_eq!(
                    named.matches("!Ref").count(),
                    2,
                    "{binary}: the two Stripe secrets: {named}"
                );
                assert!(
                    named.contains("StripeSecretKeySecretArn")
                        && named.contains("StripeWebhookSecretArn"),
                    "{binary}: the two Stripe secrets: {named}"
                );
                continue;
            }
            assert_eq!(
                statement["Resource"], table_arn,
                "{binary}: a statement whose Resource is not `!GetAtt Table.Arn`: {statement:?}"
            );
            let listed: Vec<&str> = match &statement["Action"] {
                serde_yaml::Value::String(one) => vec![one.as_str()],
                serde_yaml::Value::Sequence(many) => many
                    .iter()
                    .map(|a| a.as_str().expect("actions are strings"))
                    .collect(),
                other => panic!("{binary}: Action is neither a string nor a list: {other:?}"),
            };
            for action in listed {
                assert!(
                    action.starts_with("dynamodb:") && !action.contains('*'),
                    "{binary}: {action} is not one named DynamoDB action"
                );
                actions.insert(action.to_owned());
            }
        }
    }
    actions
}

// ------------------------------------------------------------------------------- events

fn event(function: &str) -> Value {
    let path = root().join("events").join(format!("{function}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("event files are JSON")
}

/// The event as sent by another fan (the JWT's `sub`).
fn by(mut event: Value, user: &str) -> Value {
    event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = user.into();
    event
}

fn with_token(mut event: Value, token: &Value) -> Value {
    event["headers"]["x-queue-token"] = token.clone();
    event
}

fn with_key(mut event: Value, key: &str) -> Value {
    event["headers"]["idempotency-key"] = key.into();
    event
}

fn without_key(mut event: Value) -> Value {
    event["headers"]
        .as_object_mut()
        .expect("headers")
        .remove("idempotency-key");
    event
}

fn with_body(mut event: Value, body: Value) -> Value {
    event["body"] = body.to_string().into();
    event
}

fn with_path(mut event: Value, name: &str, id: &Value) -> Value {
    let id = id.as_str().expect("an id");
    let placeholder = event["pathParameters"][name]
        .as_str()
        .expect("the path parameter")
        .to_owned();
    event["pathParameters"][name] = id.into();
    event["rawPath"] = event["rawPath"]
        .as_str()
        .expect("rawPath")
        .replace(&placeholder, id)
        .into();
    event
}

fn with_concert(event: Value, concert: &str) -> Value {
    with_path(event, "concertId", &concert.into())
}

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

// ------------------------------------------------------------------------------- functions

/// Every function binary as its own container: a client recording what it sends, and a
/// `Ticketing` with its own cache. Plus an unrecorded one to set state up.
struct Functions {
    clock: Arc<ManualClock>,
    apps: BTreeMap<String, (App, Recorder)>,
    setup: Ticketing,
    setup_store: DynamoStore,
    table: String,
}

impl Functions {
    async fn start(endpoint: &str) -> Functions {
        let table = format!("policies-{}", uuid::Uuid::new_v4().simple());
        let setup_store = DynamoStore::connect(table.clone(), Some(endpoint)).await;
        setup_store
            .create_table_if_missing(ticketing::store::Expiry::Kept)
            .await
            .expect("create the test table");
        let clock = Arc::new(ManualClock::starting_at(Timestamp::from_epoch_seconds(
            START,
        )));
        let setup = Ticketing::new(Arc::new(setup_store.clone()), clock.clone(), settings());
        setup
            .load_catalog(&catalog())
            .await
            .expect("load the catalog");

        // As `DynamoStore::connect_with` sets a client up for a local endpoint.
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(
                aws_config::meta::region::RegionProviderChain::default_provider()
                    .or_else("us-east-1"),
            )
            .endpoint_url(endpoint)
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(30))
                    .build(),
            );
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local",
                "local",
                None,
                None,
                "local-endpoint",
            ));
        }
        let sdk = loader.load().await;

        let mut apps = BTreeMap::new();
        for binary in binaries() {
            let recorder = Recorder::default();
            let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(recorder.clone())
                .build();
            let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), &table);
            // As deployed, a per-fan limit on the writes (its bucket is an UpdateItem), wide
            // enough for the walk's bursts of one fan.
            let mut booking = Ticketing::new(Arc::new(store), clock.clone(), settings())
                .with_rate_limit(
                    RateLimit::new(RateLimit::MAX_PER_MINUTE, RateLimit::MAX_BURST).unwrap(),
                );
            if binary == "stripe-webhook" {
                booking = booking.with_payments(payments());
            }
            let app = App {
                booking,
                trust_user_header: false,
                metrics: MetricsSink::Off,
                edge: Default::default(),
            };
            apps.insert(binary, (app, recorder));
        }
        Functions {
            clock,
            apps,
            setup,
            setup_store,
            table,
        }
    }

    fn app(&self, function: &str) -> &App {
        &self
            .apps
            .get(function)
            .unwrap_or_else(|| panic!("no binary {function} in functions/src/bin"))
            .0
    }

    /// Feeds an event to the handler of the function it is named after, in its own container.
    async fn invoke(&self, function: &str, event: &Value) -> (u16, Value) {
        sample::invoke(self.app(function), function, event).await
    }

    /// One tick of the admission function, as its handler runs it.
    async fn tick(&self) -> MinuteOfAdmission {
        let app = self.app(ADMITTER);
        let minute = Box::pin(admit_for_a_minute(
            &app.booking,
            &app.metrics,
            SystemTime::now() + Duration::from_secs(90),
        ))
        .await
        .expect("the tick runs");
        assert_eq!(
            (minute.ticks, minute.deferred),
            (1, 0),
            "one tick, no concert left undone"
        );
        minute
    }

    /// A fan joins; the ticket's token.
    async fn join(&self, user: &str, concert: &str) -> Value {
        let (status, ticket) = self
            .invoke(
                "join-queue",
                &by(with_concert(event("join-queue"), concert), user),
            )
            .await;
        assert_eq!(status, 201, "{user} joins {concert}: {ticket}");
        ticket["token"].clone()
    }

    async fn hold(&self, user: &str, token: &Value, seat: i64) -> (u16, Value) {
        let hold = with_body(
            by(with_token(event("hold-seat"), token), user),
            json!({ "concertId": CONCERT, "date": DATE, "seatNumber": seat }),
        );
        self.invoke("hold-seat", &hold).await
    }

    /// A hold with an Idempotency-Key (its claim is freed when the hold is refused).
    async fn keyed_hold(&self, user: &str, token: &Value, seat: i64, key: &str) -> (u16, Value) {
        let hold = with_body(
            by(with_key(with_token(event("hold-seat"), token), key), user),
            json!({ "concertId": CONCERT, "date": DATE, "seatNumber": seat }),
        );
        self.invoke("hold-seat", &hold).await
    }

    fn pay_event(&self, user: &str, token: &Value, reservation: &Value) -> Value {
        with_body(
            by(with_token(event("pay"), token), user),
            json!({ "reservationId": reservation }),
        )
    }

    /// Through the unrecorded client: a charge, as a fan would have made it before.
    async fn charged(&self, user: &str, amount: i64) {
        let amount = ChargeAmount::parse(amount).unwrap();
        Box::pin(self.setup.charge(&user_id(user), amount, None))
            .await
            .expect("charge");
    }

    /// A fan looks at a page of the sale (`list-dates`, `list-seats`, `list-sections`) with
    /// its token, and is shown it.
    async fn looks(&self, function: &str, user: &str, token: &Value) {
        let (status, _) = self
            .invoke(function, &by(with_token(event(function), token), user))
            .await;
        assert_eq!(status, 200, "{user} looks at {function}");
    }

    /// Through the unrecorded client: a fan holds a seat and pays for it.
    async fn bought(&self, user: &str, token: &Value, seat: i64) {
        let user = user_id(user);
        let token = QueueToken::parse(token.as_str().unwrap()).unwrap();
        let hold = HoldRequest::seat(
            ConcertId::parse(CONCERT).unwrap(),
            ConcertDate::parse(DATE).unwrap(),
            SeatNumber::parse(seat).unwrap(),
        );
        let (held, _) = Box::pin(self.setup.hold_seats(&user, Some(&token), &hold, None))
            .await
            .expect("hold");
        let id: ReservationId = held.reservation_id;
        Box::pin(self.setup.pay(&user, Some(&token), id, None))
            .await
            .expect("pay");
    }

    /// What each function sent: its actions, and every table it named.
    fn sent(&self) -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
        self.apps
            .iter()
            .map(|(function, (_, recorder))| {
                let sent = recorder.sent();
                let actions = sent.iter().map(|s| s.action.clone()).collect();
                let tables = sent.iter().map(|s| s.table.clone()).collect();
                (function.clone(), (actions, tables))
            })
            .collect()
    }
}

fn user_id(user: &str) -> UserId {
    UserId::parse(user).unwrap()
}

/// The function binaries, as `functions/src/bin` holds them.
fn binaries() -> BTreeSet<String> {
    std::fs::read_dir(root().join("functions/src/bin"))
        .expect("functions/src/bin")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

// ------------------------------------------------------------------------------- the paths

/// Drives every function through the paths that send different requests.
async fn drive(f: &Functions) {
    let clock = &f.clock;

    // ---- START: operators look, pause and resume, and add a concert (twice).
    let (status, list) = f.invoke("list-concerts", &event("list-concerts")).await;
    assert_eq!(
        (status, list["concerts"].as_array().map(Vec::len)),
        (200, Some(2))
    );
    let (status, room) = f
        .invoke("get-waiting-room", &event("get-waiting-room"))
        .await;
    assert_eq!((status, room["state"].as_str()), (200, Some("OPEN")));
    for (change, state) in [
        (json!({ "paused": true }), "PAUSED"),
        (json!({ "paused": false }), "OPEN"),
        // Nothing to change: the control item is read, not written.
        (json!({}), "OPEN"),
    ] {
        let patch = with_body(event("change-waiting-room"), change);
        let (status, room) = f.invoke("change-waiting-room", &patch).await;
        assert_eq!((status, room["state"].as_str()), (200, Some(state)));
    }
    let (status, _) = f.invoke("add-concert", &event("add-concert")).await;
    assert_eq!(status, 201);
    let (status, again) = f.invoke("add-concert", &event("add-concert")).await;
    assert_eq!((status, code(&again)), (409, "CONCERT_EXISTS"));

    // ---- START: fans join; one joins again (that number stays unused: the tick voids it).
    let ana = f.join("fan-ana", CONCERT).await;
    let (status, again) = f
        .invoke("join-queue", &by(event("join-queue"), "fan-ana"))
        .await;
    assert_eq!((status, &again["token"]), (200, &ana), "joining again");
    let bob = f.join("fan-bob", CONCERT).await;
    let cho = f.join("fan-cho", CONCERT).await;
    let dan = f.join("fan-dan", CONCERT).await;
    let kim = f.join("fan-kim", LOTTERY).await;
    let lee = f.join("fan-lee", LOTTERY).await;

    // Waiting fans poll, and are refused what only admitted fans may do.
    let poll = |user: &str, token: &Value| by(with_token(event("queue-status"), token), user);
    let (status, ticket) = f.invoke("queue-status", &poll("fan-ana", &ana)).await;
    assert_eq!(status, 200, "{ticket}");
    let (status, problem) = f
        .invoke("list-dates", &with_token(event("list-dates"), &ana))
        .await;
    assert_eq!((status, code(&problem)), (403, "QUEUE_NOT_ADMITTED"));
    let (status, problem) = f
        .invoke("list-seats", &with_token(event("list-seats"), &ana))
        .await;
    assert_eq!((status, code(&problem)), (403, "QUEUE_NOT_ADMITTED"));
    let (status, problem) = f
        .invoke("list-sections", &with_token(event("list-sections"), &ana))
        .await;
    assert_eq!((status, code(&problem)), (403, "QUEUE_NOT_ADMITTED"));
    // The hold's transaction refuses the token, then the gate says why.
    let (status, problem) = f.hold("fan-ana", &ana, 1).await;
    assert_eq!((status, code(&problem)), (403, "QUEUE_NOT_ADMITTED"));

    // ---- START+5: the first tick admits the four (the lottery concert's sale is not open).
    clock.advance(5);
    let minute = f.tick().await;
    assert_eq!((minute.admitted, minute.dropped), (4, 0));
    // Eve joins now and never polls again.
    f.join("fan-eve", CONCERT).await;

    // ---- START+6: the admitted fans look and hold.
    clock.advance(1);
    let (status, ticket) = f.invoke("queue-status", &poll("fan-ana", &ana)).await;
    assert_eq!((status, ticket["status"].as_str()), (200, Some("ACTIVE")));
    let (status, dates) = f
        .invoke("list-dates", &with_token(event("list-dates"), &ana))
        .await;
    assert_eq!(
        (status, dates["dates"].as_array().map(Vec::len)),
        (200, Some(1))
    );
    let (status, chart) = f
        .invoke("list-seats", &with_token(event("list-seats"), &ana))
        .await;
    assert_eq!(
        (status, chart["seats"].as_array().map(Vec::len)),
        (200, Some(4))
    );
    let (status, map) = f
        .invoke("list-sections", &with_token(event("list-sections"), &ana))
        .await;
    assert_eq!(
        (status, map["sections"][0]["freeSeats"].as_u64()),
        (200, Some(4))
    );

    let (status, ana_1) = f.hold("fan-ana", &ana, 1).await;
    assert_eq!(status, 201, "{ana_1}");
    let (status, again) = f.hold("fan-ana", &ana, 1).await;
    assert_eq!(
        (status, &again["reservationId"]),
        (200, &ana_1["reservationId"]),
        "a repeated hold is answered with the hold"
    );
    let (status, problem) = f.hold("fan-bob", &bob, 1).await;
    assert_eq!((status, code(&problem)), (409, "SEAT_UNAVAILABLE"));
    // Keyed, refused: the key's claim is freed for a corrected retry.
    let (status, problem) = f.keyed_hold("fan-bob", &bob, 1, "bob-hold-1").await;
    assert_eq!((status, code(&problem)), (409, "SEAT_UNAVAILABLE"));
    let (status, problem) = f.hold("fan-ana", &ana, 9).await;
    assert_eq!((status, code(&problem)), (404, "SEAT_NOT_FOUND"));
    let (status, ana_2) = f.hold("fan-ana", &ana, 2).await;
    assert_eq!(status, 201, "{ana_2}");

    let (status, bob_3) = f.hold("fan-bob", &bob, 3).await;
    assert_eq!(status, 201, "{bob_3}");
    let release = by(
        with_path(
            event("release-reservation"),
            "reservationId",
            &bob_3["reservationId"],
        ),
        "fan-bob",
    );
    assert_eq!(f.invoke("release-reservation", &release).await.0, 204);
    // Released already: read, nothing written.
    assert_eq!(f.invoke("release-reservation", &release).await.0, 204);
    let (status, cho_3) = f.hold("fan-cho", &cho, 3).await;
    assert_eq!(status, 201, "{cho_3}");
    let (status, dan_4) = f.hold("fan-dan", &dan, 4).await;
    assert_eq!(status, 201, "{dan_4}");

    let (status, mine) = f
        .invoke("list-reservations", &event("list-reservations"))
        .await;
    assert_eq!(
        (status, mine["items"].as_array().map(Vec::len)),
        (200, Some(2))
    );
    let read = with_path(
        event("get-reservation"),
        "reservationId",
        &ana_1["reservationId"],
    );
    let (status, reservation) = f.invoke("get-reservation", &read).await;
    assert_eq!(
        (status, reservation["status"].as_str()),
        (200, Some("HELD"))
    );

    // ---- Balances: without a key, with one, its replay, and a keyed charge refused.
    let charge = event("charge-balance");
    let (status, balance) = f
        .invoke("charge-balance", &without_key(charge.clone()))
        .await;
    assert_eq!((status, balance["balance"].as_i64()), (200, Some(200_000)));
    let (status, balance) = f.invoke("charge-balance", &charge).await;
    assert_eq!((status, balance["balance"].as_i64()), (200, Some(400_000)));
    let (status, replay) = f.invoke("charge-balance", &charge).await;
    assert_eq!((status, replay), (200, balance), "the key replays");
    // Near the limit: the refused charge frees its key.
    let rich = user_id("fan-rich");
    let near_limit = Won::new(999_990_000).unwrap();
    let written = f
        .setup_store
        .apply_balance_change(&BalanceChange {
            user_id: rich,
            entry: BalanceEntryRecord {
                version: 1,
                kind: EntryKind::Charge,
                amount: near_limit,
                balance_after: near_limit,
                at: START,
                payment_id: None,
                top_up_id: None,
            },
            completion: None,
        })
        .await
        .expect("a balance near the limit");
    assert_eq!(written, CommitOutcome::Committed);
    let (status, problem) = f
        .invoke(
            "charge-balance",
            &by(with_key(charge, "too-much"), "fan-rich"),
        )
        .await;
    assert_eq!((status, code(&problem)), (409, "BALANCE_LIMIT_EXCEEDED"));
    let (status, balance) = f.invoke("get-balance", &event("get-balance")).await;
    assert_eq!((status, balance["balance"].as_i64()), (200, Some(400_000)));
    let (status, history) = f
        .invoke(
            "list-balance-transactions",
            &event("list-balance-transactions"),
        )
        .await;
    assert_eq!(
        (status, history["items"].as_array().map(Vec::len)),
        (200, Some(2))
    );

    // ---- Payments: refused for want of money (the key is freed), paid with a key and
    // replayed, paid without a key, and refused to a fan whose token waits again.
    let pay = f.pay_event("fan-cho", &cho, &cho_3["reservationId"]);
    let (status, problem) = f.invoke("pay", &pay).await;
    assert_eq!((status, code(&problem)), (409, "INSUFFICIENT_BALANCE"));
    let pay = f.pay_event("fan-ana", &ana, &ana_1["reservationId"]);
    let (status, receipt) = f.invoke("pay", &pay).await;
    assert_eq!(
        (status, receipt["balanceAfter"].as_i64()),
        (201, Some(350_000))
    );
    let (status, replay) = f.invoke("pay", &pay).await;
    assert_eq!((status, &replay), (201, &receipt), "the key replays");
    let read = with_path(event("get-payment"), "paymentId", &receipt["paymentId"]);
    assert_eq!(f.invoke("get-payment", &read).await, (200, receipt));

    // A paid top-up (provider mode): started through the unrecorded client, read by its fan,
    // confirmed by Stripe's webhook (credited, then a redelivery), and a payment for no top-up
    // (kept for an operator).
    let paid = f.setup.clone().with_payments(payments());
    let started = Box::pin(paid.start_top_up(
        &user_id("fan-ana"),
        ChargeAmount::parse(30_000).unwrap(),
        None,
    ))
    .await
    .expect("start a top-up");
    let top_up_id = json!(started.top_up_id.to_string());
    let read = with_path(event("get-top-up"), "topUpId", &top_up_id);
    let (status, top_up) = f.invoke("get-top-up", &read).await;
    assert_eq!((status, top_up["status"].as_str()), (200, Some("PENDING")));
    let succeeded = |event_id: &str, top_up: &Value| {
        json!({"id": event_id, "type": "payment_intent.succeeded", "data": {"object": {
            "id": "pi_policies", "amount": 30_000, "currency": "krw",
            "metadata": {"top_up_id": top_up, "user_id": "fan-ana"}}}})
    };
    let now = clock_now(clock);
    for delivery in [
        succeeded("evt_paid", &top_up_id),
        succeeded("evt_paid", &top_up_id),
        succeeded(
            "evt_stray",
            &json!(ticketing::domain::TopUpId::new().to_string()),
        ),
    ] {
        let (status, _) = f
            .invoke("stripe-webhook", &signed_webhook(&delivery, now))
            .await;
        assert_eq!(status, 200);
    }
    let (status, top_up) = f.invoke("get-top-up", &read).await;
    assert_eq!(
        (status, top_up["status"].as_str()),
        (200, Some("SUCCEEDED"))
    );
    f.charged("fan-dan", 50_000).await;
    let pay = without_key(f.pay_event("fan-dan", &dan, &dan_4["reservationId"]));
    let (status, receipt) = f.invoke("pay", &pay).await;
    assert_eq!((status, receipt["balanceAfter"].as_i64()), (201, Some(0)));
    // Ana's token is spent: she joins again (her ticket is replaced) and, waiting, may not pay
    // for the seat she still holds. The only path on which pay sends GetItem: the gate reads the
    // queue state and the concert to tell a waiting fan where she stands.
    let ana_again = f.join("fan-ana", CONCERT).await;
    assert_ne!(ana_again, ana);
    let pay = without_key(f.pay_event("fan-ana", &ana_again, &ana_2["reservationId"]));
    let (status, problem) = f.invoke("pay", &pay).await;
    assert_eq!((status, code(&problem)), (403, "QUEUE_NOT_ADMITTED"));

    // ---- START+106 and START+206: bob, whose holds were refused or released (their time
    // given back to his slot), keeps his token by looking.
    for _ in 0..2 {
        clock.advance(100);
        f.looks("list-dates", "fan-bob", &bob).await;
    }
    // ---- START+256: bob, and cho whose slot her hold kept, look again: a request that
    // carries an active token renews it when due (the ticket and a slot shard, in one
    // transaction), so they can still buy at START+322.
    clock.advance(50);
    f.looks("list-dates", "fan-bob", &bob).await;
    f.looks("list-seats", "fan-cho", &cho).await;
    // ---- START+290: bob's renewal is due again.
    clock.advance(34);
    f.looks("list-sections", "fan-bob", &bob).await;

    // ---- START+320: the lottery concert's pre-queue polls; the second tick draws its lottery
    // and admits both, and drops eve and ana's new ticket, idle for 300 seconds.
    clock.advance(29);
    for (user, token) in [("fan-kim", &kim), ("fan-lee", &lee)] {
        let (status, ticket) = f.invoke("queue-status", &poll(user, token)).await;
        assert_eq!(
            (status, ticket["status"].as_str()),
            (200, Some("PRE_QUEUE"))
        );
    }
    clock.advance(1);
    let minute = f.tick().await;
    assert_eq!((minute.admitted, minute.dropped), (2, 2));

    // ---- START+321: bob and cho buy the two seats whose holds ended (a payment spends its
    // token: one purchase per admission); the third tick, in the next minute's slot, sees the
    // concert sold out, and a late fan is told.
    clock.advance(1);
    f.charged("fan-bob", 50_000).await;
    f.bought("fan-bob", &bob, 2).await;
    f.charged("fan-cho", 50_000).await;
    f.bought("fan-cho", &cho, 3).await;
    clock.advance(39);
    let minute = f.tick().await;
    assert_eq!((minute.admitted, minute.dropped), (0, 0));
    let (status, room) = f
        .invoke("get-waiting-room", &event("get-waiting-room"))
        .await;
    assert_eq!((status, room["state"].as_str()), (200, Some("SOLD_OUT")));
    let (status, problem) = f
        .invoke("join-queue", &by(event("join-queue"), "fan-late"))
        .await;
    assert_eq!((status, code(&problem)), (409, "SOLD_OUT"));

    // ---- Much later: nobody waits or is active; the queues are retired.
    clock.advance(700);
    f.tick().await;
}

#[tokio::test]
async fn every_policy_grants_exactly_what_its_function_sends_on_the_table() {
    let Ok(endpoint) = std::env::var("TEST_DYNAMODB_ENDPOINT") else {
        assert!(
            std::env::var("REQUIRE_DYNAMODB").as_deref() != Ok("1"),
            "REQUIRE_DYNAMODB=1 but TEST_DYNAMODB_ENDPOINT is not set"
        );
        eprintln!("TEST_DYNAMODB_ENDPOINT not set: the IAM policy check is skipped");
        return;
    };
    let template = template();
    let resources = template_functions(&template);
    assert_eq!(
        resources.keys().cloned().collect::<BTreeSet<_>>(),
        binaries(),
        "one function resource per binary of functions/src/bin"
    );

    let functions = Functions::start(&endpoint).await;
    Box::pin(drive(&functions)).await;

    let mut wrong = Vec::new();
    for (function, (sent, tables)) in functions.sent() {
        eprintln!("{function}: {sent:?}");
        assert!(!sent.is_empty(), "{function} was never driven");
        assert_eq!(
            tables,
            BTreeSet::from([functions.table.clone()]),
            "{function} sends requests naming only the table"
        );
        let granted = granted(&function, &resources[&function]);
        if granted != sent {
            wrong.push(format!(
                "{function}: sends {sent:?}, granted {granted:?}: missing {:?}, never sent {:?}",
                sent.difference(&granted).collect::<Vec<_>>(),
                granted.difference(&sent).collect::<Vec<_>>(),
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "infra/template.yaml: these policies differ from what their functions send:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn transactions_are_authorized_per_item_and_batches_per_table() {
    let actions = |operation: &str, body: Value| -> Vec<(String, String)> {
        authorized_as(operation, &body)
            .into_iter()
            .map(|s| (s.action, s.table))
            .collect()
    };
    let pair = |a: &str, t: &str| (a.to_owned(), t.to_owned());
    assert_eq!(
        actions(
            "TransactWriteItems",
            json!({ "TransactItems": [
                { "ConditionCheck": { "TableName": "t", "Key": {} } },
                { "Update": { "TableName": "t", "Key": {} } },
                { "Put": { "TableName": "t", "Item": {} } },
                { "Delete": { "TableName": "u", "Key": {} } },
            ] })
        ),
        [
            pair("dynamodb:ConditionCheckItem", "t"),
            pair("dynamodb:UpdateItem", "t"),
            pair("dynamodb:PutItem", "t"),
            pair("dynamodb:DeleteItem", "u"),
        ]
    );
    assert_eq!(
        actions(
            "TransactGetItems",
            json!({ "TransactItems": [{ "Get": { "TableName": "t", "Key": {} } }] })
        ),
        [pair("dynamodb:GetItem", "t")]
    );
    assert_eq!(
        actions(
            "BatchGetItem",
            json!({ "RequestItems": { "t": { "Keys": [] }, "u": { "Keys": [] } } })
        ),
        [
            pair("dynamodb:BatchGetItem", "t"),
            pair("dynamodb:BatchGetItem", "u")
        ]
    );
    assert_eq!(
        actions("BatchWriteItem", json!({ "RequestItems": { "t": [] } })),
        [pair("dynamodb:BatchWriteItem", "t")]
    );
    assert_eq!(
        actions("Query", json!({ "TableName": "t" })),
        [pair("dynamodb:Query", "t")]
    );
    // An item kind nobody mapped cannot pass for a granted action.
    assert!(actions(
        "TransactWriteItems",
        json!({ "TransactItems": [{ "Mystery": { "TableName": "t" } }] })
    )[0]
    .0
    .starts_with('<'));
}

fn clock_now(clock: &ManualClock) -> i64 {
    ticketing::domain::Clock::now(clock).epoch_seconds()
}
