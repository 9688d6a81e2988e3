//! `openapi.yaml` holds to what the server answers: a fan journey on the real local server (the
//! in-memory store) produces every success body and a spread of problems, and each is validated
//! against the schema the document declares for its path, method, status and content type
//! (JSON Schema 2020-12, `$ref`s into `#/components` resolved). A body with a field the schema
//! lacks, or without one it requires, fails here, and so does a status the operation does not
//! document. Every example in the document is held to its own schema as well.
//!
//! The document's answers are open to clients (a later version may add fields and codes); the
//! check holds this server to exactly what it documents: every object schema is read closed
//! and `code` as the known codes (`Spec::strict`). Every answer must carry `X-Request-Id`, and
//! each header the document marks `required`.

#[allow(dead_code)]
#[path = "api/server.rs"]
mod server;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use ticketing::domain::{Clock, SystemClock};

use server::{Backend, Caller, Options, Reply, Server};

/// The document, read once.
struct Spec {
    doc: Value,
}

impl Spec {
    fn load() -> Spec {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let mut doc: Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        Spec::strict(&mut doc);
        let code = &mut doc["components"]["schemas"]["Problem"]["properties"]["code"];
        assert!(code["anyOf"].is_array(), "Problem.code is an open string");
        code["anyOf"] = json!([{"$ref": "#/components/schemas/ProblemCode"}]);
        Spec { doc }
    }

    /// Closes every object schema that leaves extra fields open: what this server sends must
    /// be documented, whatever clients are told to tolerate.
    fn strict(node: &mut Value) {
        match node {
            Value::Object(map) => {
                let closable = map.get("type").and_then(Value::as_str) == Some("object")
                    && map.get("properties").is_some_and(Value::is_object)
                    && !map.contains_key("additionalProperties");
                if closable {
                    map.insert("additionalProperties".into(), Value::Bool(false));
                }
                map.values_mut().for_each(Spec::strict);
            }
            Value::Array(items) => items.iter_mut().for_each(Spec::strict),
            _ => {}
        }
    }

    /// Follows a local `$ref` (`#/components/...`) until a node that is not one.
    fn resolve<'a>(&'a self, node: &'a Value) -> &'a Value {
        match node.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("{reference} is not a local reference"));
                self.resolve(
                    self.doc
                        .pointer(pointer)
                        .unwrap_or_else(|| panic!("{reference} points at nothing")),
                )
            }
            None => node,
        }
    }

    /// A validator for `schema`, with the document's components beside it so that every
    /// `#/components/...` reference inside resolves.
    fn validator(&self, schema: &Value) -> jsonschema::Validator {
        let Value::Object(schema_object) = schema else {
            panic!("a schema is an object here, got {schema}");
        };
        let mut root = schema_object.clone();
        root.insert("components".into(), self.doc["components"].clone());
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&Value::Object(root))
            .unwrap_or_else(|e| panic!("schema {schema}: {e}"))
    }

    fn errors(&self, schema: &Value, instance: &Value) -> Result<(), String> {
        let validator = self.validator(schema);
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{} at {:?}", e, e.instance_path().to_string()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    fn named_schema(&self, name: &str) -> Value {
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    /// The reply is one that `method path` documents: its status, its headers, its content
    /// type, and a body that fits the schema.
    fn verify(&self, method: &str, path: &str, reply: &Reply) -> Result<(), String> {
        let operation = &self.doc["paths"][path][method.to_ascii_lowercase()];
        if !operation.is_object() {
            return Err(format!("{method} {path} is not in the document"));
        }
        let status = reply.status.as_str();
        let response = operation["responses"]
            .get(status)
            .ok_or_else(|| format!("{method} {path} documents no {status} answer"))?;
        self.verify_response(self.resolve(response), reply)
    }

    fn verify_response(&self, response: &Value, reply: &Reply) -> Result<(), String> {
        if !reply.headers.contains_key("x-request-id") {
            return Err("the answer carries no X-Request-Id".into());
        }
        if let Some(headers) = response["headers"].as_object() {
            for (name, header) in headers {
                let required = self.resolve(header)["required"] == json!(true);
                if required
                    && !reply
                        .headers
                        .contains_key(name.to_ascii_lowercase().as_str())
                {
                    return Err(format!("the documented header {name} is missing"));
                }
            }
        }
        let Some(content) = response.get("content") else {
            return if reply.body.is_null() {
                Ok(())
            } else {
                Err("the document says this answer has no body".into())
            };
        };
        let media = content.get(&reply.content_type).ok_or_else(|| {
            format!(
                "content type {:?} is not documented for this answer",
                reply.content_type
            )
        })?;
        if reply.content_type == "application/problem+json"
            && reply.body["status"] != reply.status.as_u16()
        {
            return Err("the problem's status is not the answer's status".into());
        }
        self.errors(&media["schema"], &reply.body)
    }
}

/// Checks replies against the document and remembers what the journey covered.
struct Checker {
    spec: Spec,
    statuses: Mutex<BTreeSet<u16>>,
    codes: Mutex<BTreeSet<String>>,
    tickets: Mutex<BTreeSet<String>>,
}

impl Checker {
    fn new() -> Checker {
        Checker {
            spec: Spec::load(),
            statuses: Mutex::default(),
            codes: Mutex::default(),
            tickets: Mutex::default(),
        }
    }

    /// `path` is the document's template, e.g. `/concerts/{concertId}/dates`.
    fn check(&self, method: &str, path: &str, reply: Reply) -> Reply {
        if let Err(why) = self.spec.verify(method, path, &reply) {
            panic!(
                "{method} {path} answered {} against the document: {why}\nbody: {}",
                reply.status, reply.body
            );
        }
        self.remember(&reply, path);
        reply
    }

    /// For answers no operation owns (unknown routes and methods): a named response.
    fn check_named(&self, response: &str, reply: Reply) -> Reply {
        let spec = &self.spec;
        let documented = spec.resolve(&spec.doc["components"]["responses"][response]);
        if let Err(why) = spec.verify_response(documented, &reply) {
            panic!(
                "{} against components.responses.{response}: {why}\nbody: {}",
                reply.status, reply.body
            );
        }
        self.remember(&reply, "");
        reply
    }

    fn remember(&self, reply: &Reply, path: &str) {
        self.statuses.lock().unwrap().insert(reply.status.as_u16());
        if let Some(code) = reply.body["code"].as_str() {
            self.codes.lock().unwrap().insert(code.to_owned());
        }
        if reply.status.is_success() && path.contains("queue") {
            if let Some(status) = reply.body["status"].as_str() {
                self.tickets.lock().unwrap().insert(status.to_owned());
            }
        }
    }

    fn expect(&self, reply: &Reply, status: u16, code: &str) {
        assert_eq!(
            (reply.status.as_u16(), reply.code()),
            (status, code),
            "body: {}",
            reply.body
        );
    }

    async fn join(&self, fan: &Caller<'_>, concert: &str) -> Reply {
        let path = format!("/concerts/{concert}/queue/tokens");
        self.check(
            "POST",
            "/concerts/{concertId}/queue/tokens",
            fan.post(&path, Value::Null).await,
        )
    }

    async fn poll(&self, fan: &Caller<'_>, token: &str) -> Reply {
        self.check(
            "GET",
            "/queue/status",
            fan.token(token).get("/queue/status").await,
        )
    }

    /// Polls (checking every answer) until the ticket has `status`.
    async fn poll_until(&self, fan: &Caller<'_>, token: &str, status: &str) -> Value {
        for _ in 0..160 {
            let polled = self.poll(fan, token).await;
            assert_eq!(polled.status, 200, "{}", polled.body);
            if polled.body["status"] == status {
                return polled.body;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("the ticket never became {status}");
    }

    /// Joins and polls until admitted; returns the token.
    async fn admitted(&self, fan: &Caller<'_>, concert: &str) -> String {
        let joined = self.join(fan, concert).await;
        assert_eq!(joined.status, 201, "{}", joined.body);
        assert_eq!(joined.body["status"], "WAITING");
        let token = joined.body["token"].as_str().unwrap().to_owned();
        self.poll_until(fan, &token, "ACTIVE").await;
        token
    }

    async fn dates(&self, fan: &Caller<'_>, token: &str, concert: &str) -> Reply {
        self.check(
            "GET",
            "/concerts/{concertId}/dates",
            fan.token(token)
                .get(&format!("/concerts/{concert}/dates"))
                .await,
        )
    }

    async fn hold(&self, fan: &Caller<'_>, token: &str, body: Value) -> Reply {
        self.check(
            "POST",
            "/reservations",
            fan.token(token).post("/reservations", body).await,
        )
    }

    async fn hold_raw(&self, fan: &Caller<'_>, token: &str, body: &str) -> Reply {
        self.check(
            "POST",
            "/reservations",
            fan.token(token).post_raw("/reservations", body).await,
        )
    }

    async fn pay(&self, fan: &Caller<'_>, body: Value) -> Reply {
        self.check("POST", "/payments", fan.post("/payments", body).await)
    }

    async fn charge(&self, fan: &Caller<'_>, amount: i64) -> Reply {
        self.check(
            "POST",
            "/balance/charges",
            fan.post("/balance/charges", json!({ "amount": amount }))
                .await,
        )
    }
}

/// RFC 3339, `seconds` from now.
fn from_now(seconds: i64) -> String {
    SystemClock.now().plus_seconds(seconds).to_string()
}

fn day_from_now(days: i64) -> String {
    SystemClock
        .now()
        .plus_seconds(days * 86_400)
        .date()
        .to_string()
}

/// How long `encore` stays in its pre-queue after the catalog is written: long enough for a
/// loaded machine to start the server and join.
const PRE_QUEUE_SECONDS: i64 = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_answer_of_a_fan_journey_fits_the_document() {
    let check = Checker::new();
    let date = day_from_now(30);
    // `open-hall` sells from the start; `encore` is in its pre-queue for a few seconds and has
    // one seat (with one active fan per free seat, one fan at a time); `later` opens its queue
    // in an hour; `arena` is a venue of named sections, too many seats to list at once.
    let catalog = json!({"concerts": [
        {"concertId": "open-hall", "title": "Open Hall", "dates": [date, day_from_now(31)],
         "seatPrices": [{"fromSeat": 1, "toSeat": 40, "price": 70000}]},
        {"concertId": "encore", "title": "Encore", "dates": [date],
         "seatPrices": [{"fromSeat": 1, "toSeat": 1, "price": 50000}],
         "queueOpensAt": from_now(-60), "saleOpensAt": from_now(PRE_QUEUE_SECONDS)},
        {"concertId": "later", "title": "Later", "dates": [date],
         "seatPrices": [{"fromSeat": 1, "toSeat": 50, "price": 1000}],
         "queueOpensAt": from_now(3_600), "saleOpensAt": from_now(7_200)},
        {"concertId": "arena", "title": "Arena", "dates": [date],
         "sections": [
            {"section": "Floor A", "fromSeat": 1, "toSeat": 300, "price": 150000},
            {"section": "Stand 101", "fromSeat": 301, "toSeat": 1200, "price": 99000}]}
    ]});
    let options = Options {
        env: vec![("ACTIVE_PER_FREE_SEAT", "1".into())],
        catalog: Some(catalog.to_string()),
    };
    let server = Server::start(Backend::Memory, options).expect("the in-memory server starts");

    // The pre-queue, while it lasts: two fans join before the sale opens.
    let (wendy, otto) = (server.as_user("wendy"), server.as_user("otto"));
    let mut encore_tokens = Vec::new();
    for fan in [&wendy, &otto] {
        let joined = check.join(fan, "encore").await;
        assert_eq!(joined.status, 201, "{}", joined.body);
        assert_eq!(joined.body["status"], "PRE_QUEUE");
        encore_tokens.push(joined.body["token"].as_str().unwrap().to_owned());
    }
    let again = check.join(&wendy, "encore").await;
    assert_eq!(
        (again.status.as_u16(), &again.body["token"]),
        (200, &json!(encore_tokens[0]))
    );
    let polled = check.poll(&otto, &encore_tokens[1]).await;
    assert_eq!(polled.body["status"], "PRE_QUEUE");
    let not_yet = check.dates(&otto, &encore_tokens[1], "encore").await;
    check.expect(&not_yet, 403, "QUEUE_NOT_ADMITTED");
    assert_eq!(not_yet.body["position"], Value::Null);

    let listed = check.check(
        "GET",
        "/concerts",
        server.as_user("viewer").get("/concerts").await,
    );
    assert_eq!(listed.body["concerts"].as_array().unwrap().len(), 4);
    let too_early = check.join(&server.as_user("eager"), "later").await;
    check.expect(&too_early, 409, "QUEUE_NOT_OPEN");

    // A whole purchase on `open-hall`, with the problems met on the way.
    let ana = server.as_user("ana");
    let ana_token = check.admitted(&ana, "open-hall").await;
    let rejoined = check.join(&ana, "open-hall").await;
    assert_eq!(
        (rejoined.status.as_u16(), &rejoined.body["status"]),
        (200, &json!("ACTIVE"))
    );
    let dates = check.dates(&ana, &ana_token, "open-hall").await;
    assert_eq!(dates.status, 200, "{}", dates.body);
    let seats_path = "/concerts/{concertId}/dates/{date}/seats";
    let seats = check.check(
        "GET",
        seats_path,
        ana.token(&ana_token)
            .get(&format!("/concerts/open-hall/dates/{date}/seats"))
            .await,
    );
    assert_eq!(seats.body["seats"].as_array().unwrap().len(), 40);
    let missing_date = check.check(
        "GET",
        seats_path,
        ana.token(&ana_token)
            .get(&format!(
                "/concerts/open-hall/dates/{}/seats",
                day_from_now(60)
            ))
            .await,
    );
    check.expect(&missing_date, 404, "DATE_NOT_FOUND");
    let bad_date = check.check(
        "GET",
        seats_path,
        ana.token(&ana_token)
            .get("/concerts/open-hall/dates/2026-02-30/seats")
            .await,
    );
    check.expect(&bad_date, 400, "INVALID_DATE");
    let sections_path = "/concerts/{concertId}/dates/{date}/sections";
    let tiers = check.check(
        "GET",
        sections_path,
        ana.token(&ana_token)
            .get(&format!("/concerts/open-hall/dates/{date}/sections"))
            .await,
    );
    assert_eq!(tiers.status, 200, "{}", tiers.body);
    assert_eq!(tiers.body["sections"][0]["section"], Value::Null);
    let no_sections = check.check(
        "GET",
        sections_path,
        ana.token(&ana_token)
            .get(&format!(
                "/concerts/open-hall/dates/{}/sections",
                day_from_now(60)
            ))
            .await,
    );
    check.expect(&no_sections, 404, "DATE_NOT_FOUND");
    let no_token = check.check(
        "GET",
        sections_path,
        ana.get(&format!("/concerts/open-hall/dates/{date}/sections"))
            .await,
    );
    check.expect(&no_token, 401, "QUEUE_TOKEN_REQUIRED");

    // A venue: its sections, one section's seats, best available in a section.
    let vera = server.as_user("vera");
    let vera_token = check.admitted(&vera, "arena").await;
    let sections = check.check(
        "GET",
        sections_path,
        vera.token(&vera_token)
            .get(&format!("/concerts/arena/dates/{date}/sections"))
            .await,
    );
    assert_eq!(sections.status, 200, "{}", sections.body);
    assert_eq!(sections.body["sections"][1]["section"], "Stand 101");
    let whole = check.check(
        "GET",
        seats_path,
        vera.token(&vera_token)
            .get(&format!("/concerts/arena/dates/{date}/seats"))
            .await,
    );
    check.expect(&whole, 400, "SECTION_REQUIRED");
    assert_eq!(whole.body["sections"], json!(["Floor A", "Stand 101"]));
    let floor = check.check(
        "GET",
        seats_path,
        vera.token(&vera_token)
            .get(&format!(
                "/concerts/arena/dates/{date}/seats?section=Floor%20A"
            ))
            .await,
    );
    assert_eq!(floor.status, 200, "{}", floor.body);
    assert_eq!(floor.body["seats"].as_array().unwrap().len(), 300);
    assert_eq!(floor.body["seats"][0]["section"], "Floor A");
    assert!(floor.body["nextCursor"].is_null());
    // Paged: a first page of 200 points at the second, whose cursor is null.
    let floor_path = format!("/concerts/arena/dates/{date}/seats?section=Floor%20A");
    let first = check.check(
        "GET",
        seats_path,
        vera.token(&vera_token)
            .get(&format!("{floor_path}&limit=200"))
            .await,
    );
    assert_eq!(first.status, 200, "{}", first.body);
    let cursor = first.body["nextCursor"].as_str().expect("a next page");
    let second = check.check(
        "GET",
        seats_path,
        vera.token(&vera_token)
            .get(&format!("{floor_path}&limit=200&cursor={cursor}"))
            .await,
    );
    assert_eq!(
        (
            second.body["seats"].as_array().unwrap().len(),
            second.body["nextCursor"].is_null()
        ),
        (100, true)
    );
    for (query, code) in [
        ("&limit=1001", "INVALID_LIMIT"),
        ("&cursor=x", "INVALID_CURSOR"),
    ] {
        let refused = check.check(
            "GET",
            seats_path,
            vera.token(&vera_token)
                .get(&format!("{floor_path}{query}"))
                .await,
        );
        check.expect(&refused, 400, code);
    }
    let nowhere = check.check(
        "GET",
        seats_path,
        vera.token(&vera_token)
            .get(&format!(
                "/concerts/arena/dates/{date}/seats?section=Balcony"
            ))
            .await,
    );
    check.expect(&nowhere, 404, "SECTION_NOT_FOUND");
    let best = check
        .hold(
            &vera,
            &vera_token,
            json!({"concertId": "arena", "date": date, "quantity": 2, "section": "Stand 101"}),
        )
        .await;
    assert_eq!(best.status, 201, "{}", best.body);
    // One of the few lowest runs of two adjacent seats in the section, picked at random.
    let picked: Vec<u64> = best.body["seatNumbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert!(
        picked.len() == 2 && picked[1] == picked[0] + 1 && (301..=308).contains(&picked[0]),
        "{picked:?}"
    );
    assert_eq!(best.body["seats"][0]["section"], "Stand 101");
    let chosen = check
        .hold(
            &vera,
            &vera_token,
            json!({"concertId": "arena", "date": date, "seatNumber": 400, "section": "Stand 101"}),
        )
        .await;
    check.expect(&chosen, 400, "INVALID_SEATS");
    let unknown_section = check
        .hold(
            &vera,
            &vera_token,
            json!({"concertId": "arena", "date": date, "quantity": 1, "section": "Balcony"}),
        )
        .await;
    check.expect(&unknown_section, 404, "SECTION_NOT_FOUND");
    let beyond = check
        .hold(
            &vera,
            &vera_token,
            json!({"concertId": "arena", "date": date, "seatNumber": 1201}),
        )
        .await;
    check.expect(&beyond, 404, "SEAT_NOT_FOUND");

    let seat = |n: i64| json!({"concertId": "open-hall", "date": date, "seatNumber": n});
    let held = check.hold(&ana, &ana_token, seat(1)).await;
    assert_eq!(held.status, 201, "{}", held.body);
    let repeat = check.hold(&ana, &ana_token, seat(1)).await;
    assert_eq!(
        (repeat.status.as_u16(), &repeat.body),
        (200, &held.body),
        "holding one's own seat again answers the same hold"
    );
    let second = check.hold(&ana, &ana_token, seat(2)).await;
    assert_eq!(second.status, 201, "{}", second.body);
    let first_id = held.body["reservationId"].as_str().unwrap().to_owned();
    let second_id = second.body["reservationId"].as_str().unwrap().to_owned();

    let page = check.check(
        "GET",
        "/reservations",
        ana.get("/reservations?limit=1").await,
    );
    let cursor = page.body["nextCursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let older = check.check(
        "GET",
        "/reservations",
        ana.get(&format!("/reservations?limit=1&cursor={cursor}"))
            .await,
    );
    let mut listed_ids = vec![
        page.body["items"][0]["reservationId"].clone(),
        older.body["items"][0]["reservationId"].clone(),
    ];
    listed_ids.sort_by_key(|id| id != &json!(first_id));
    assert_eq!(listed_ids, [json!(first_id), json!(second_id)]);
    check.check("GET", "/reservations", ana.get("/reservations").await);
    let one = "/reservations/{reservationId}";
    check.check(
        "GET",
        one,
        ana.get(&format!("/reservations/{first_id}")).await,
    );
    let released = check.check(
        "DELETE",
        one,
        ana.delete(&format!("/reservations/{second_id}")).await,
    );
    assert_eq!(released.status, 204);
    let released_again = check.check(
        "DELETE",
        one,
        ana.delete(&format!("/reservations/{second_id}")).await,
    );
    assert_eq!(released_again.status, 204);

    let bo = server.as_user("bo");
    let bo_token = check.admitted(&bo, "open-hall").await;
    let taken = check.hold(&bo, &bo_token, seat(1)).await;
    check.expect(&taken, 409, "SEAT_UNAVAILABLE");
    let no_such_seat = check.hold(&bo, &bo_token, seat(45)).await;
    check.expect(&no_such_seat, 404, "SEAT_NOT_FOUND");
    let bos = check.hold(&bo, &bo_token, seat(3)).await;
    assert_eq!(bos.status, 201, "{}", bos.body);
    let bos_id = bos.body["reservationId"].clone();
    let broke = check
        .pay(&bo.token(&bo_token), json!({ "reservationId": bos_id }))
        .await;
    check.expect(&broke, 409, "INSUFFICIENT_BALANCE");
    let not_his = check
        .pay(&bo.token(&ana_token), json!({ "reservationId": bos_id }))
        .await;
    check.expect(&not_his, 401, "QUEUE_TOKEN_INVALID");

    let charged = check.charge(&ana, 200_000).await;
    assert_eq!(charged.body["balance"], 200_000);
    check.check("GET", "/balance", ana.get("/balance").await);
    let gone = check
        .pay(
            &ana.token(&ana_token),
            json!({ "reservationId": second_id }),
        )
        .await;
    check.expect(&gone, 409, "RESERVATION_RELEASED");
    let keyed = ana.token(&ana_token).with("Idempotency-Key", "pay-1");
    let paid = check
        .pay(&keyed, json!({ "reservationId": first_id }))
        .await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    let replay = check
        .pay(&keyed, json!({ "reservationId": first_id }))
        .await;
    assert_eq!((replay.status, &replay.body), (paid.status, &paid.body));
    let reused = check
        .pay(&keyed, json!({ "reservationId": second_id }))
        .await;
    check.expect(&reused, 422, "IDEMPOTENCY_KEY_REUSED");
    let payment_id = paid.body["paymentId"].as_str().unwrap().to_owned();
    check.check(
        "GET",
        "/payments/{paymentId}",
        ana.get(&format!("/payments/{payment_id}")).await,
    );
    let twice = check
        .pay(&ana.token(&ana_token), json!({ "reservationId": first_id }))
        .await;
    check.expect(&twice, 409, "ALREADY_PAID");
    let sold = check.check(
        "DELETE",
        one,
        ana.delete(&format!("/reservations/{first_id}")).await,
    );
    check.expect(&sold, 409, "ALREADY_PAID");
    let history = "/balance/transactions";
    let newest = check.check(
        "GET",
        history,
        ana.get("/balance/transactions?limit=1").await,
    );
    let cursor = newest.body["nextCursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    check.check(
        "GET",
        history,
        ana.get(&format!("/balance/transactions?limit=1&cursor={cursor}"))
            .await,
    );
    let spent = check.dates(&ana, &ana_token, "open-hall").await;
    check.expect(&spent, 401, "QUEUE_TOKEN_EXPIRED");
    let spent_poll = check.poll(&ana, &ana_token).await;
    check.expect(&spent_poll, 401, "QUEUE_TOKEN_EXPIRED");

    // Input and identity problems, one of each kind.
    let unknown = uuid::Uuid::new_v4().to_string();
    let problems: Vec<(&str, &str, Reply, u16, &str)> = vec![
        (
            "GET",
            "/balance",
            server.anonymous().get("/balance").await,
            401,
            "UNAUTHENTICATED",
        ),
        (
            "POST",
            "/concerts/{concertId}/queue/tokens",
            bo.post("/concerts/no%20such/queue/tokens", Value::Null)
                .await,
            400,
            "INVALID_CONCERT_ID",
        ),
        (
            "POST",
            "/concerts/{concertId}/queue/tokens",
            bo.post("/concerts/nope/queue/tokens", Value::Null).await,
            404,
            "CONCERT_NOT_FOUND",
        ),
        (
            "GET",
            "/concerts/{concertId}/dates",
            bo.get("/concerts/open-hall/dates").await,
            401,
            "QUEUE_TOKEN_REQUIRED",
        ),
        (
            "GET",
            "/queue/status",
            bo.token("garbage").get("/queue/status").await,
            401,
            "QUEUE_TOKEN_INVALID",
        ),
        (
            "GET",
            "/concerts/{concertId}/dates",
            bo.token(&bo_token).get("/concerts/encore/dates").await,
            403,
            "QUEUE_TOKEN_WRONG_CONCERT",
        ),
        (
            "POST",
            "/balance/charges",
            bo.post("/balance/charges", json!({"amount": 0})).await,
            400,
            "INVALID_AMOUNT",
        ),
        (
            "POST",
            "/balance/charges",
            bo.with("Idempotency-Key", &"k".repeat(65))
                .post("/balance/charges", json!({"amount": 1}))
                .await,
            400,
            "INVALID_IDEMPOTENCY_KEY",
        ),
        (
            "GET",
            "/reservations",
            bo.get("/reservations?limit=0").await,
            400,
            "INVALID_LIMIT",
        ),
        (
            "GET",
            "/reservations",
            bo.get("/reservations?cursor=x").await,
            400,
            "INVALID_CURSOR",
        ),
        (
            "GET",
            history,
            bo.get("/balance/transactions?cursor=0").await,
            400,
            "INVALID_CURSOR",
        ),
        (
            "GET",
            one,
            bo.get("/reservations/not-a-uuid").await,
            400,
            "INVALID_RESERVATION_ID",
        ),
        (
            "GET",
            one,
            bo.get(&format!("/reservations/{unknown}")).await,
            404,
            "RESERVATION_NOT_FOUND",
        ),
        (
            "GET",
            one,
            bo.get(&format!("/reservations/{first_id}")).await,
            404,
            "RESERVATION_NOT_FOUND",
        ),
        (
            "DELETE",
            one,
            bo.delete(&format!("/reservations/{unknown}")).await,
            404,
            "RESERVATION_NOT_FOUND",
        ),
        (
            "GET",
            "/payments/{paymentId}",
            bo.get("/payments/xyz").await,
            400,
            "INVALID_PAYMENT_ID",
        ),
        (
            "GET",
            "/payments/{paymentId}",
            bo.get(&format!("/payments/{payment_id}")).await,
            404,
            "PAYMENT_NOT_FOUND",
        ),
        (
            "POST",
            "/payments",
            bo.token(&bo_token)
                .post("/payments", json!({"reservationId": "x"}))
                .await,
            400,
            "INVALID_RESERVATION_ID",
        ),
        (
            "POST",
            "/payments",
            bo.token(&bo_token)
                .post("/payments", json!({ "reservationId": unknown }))
                .await,
            404,
            "RESERVATION_NOT_FOUND",
        ),
        (
            "POST",
            "/payments",
            bo.post("/payments", json!({ "reservationId": bos_id }))
                .await,
            401,
            "QUEUE_TOKEN_REQUIRED",
        ),
    ];
    for (method, path, reply, status, code) in problems {
        let reply = check.check(method, path, reply);
        check.expect(&reply, status, code);
    }
    for (body, code) in [
        (r#"{"concertId": "open-hall""#.to_owned(), "MALFORMED_JSON"),
        ("[1]".to_owned(), "INVALID_REQUEST"),
        (
            json!({"concertId": "open-hall", "date": date, "seat": 4}).to_string(),
            "UNKNOWN_FIELD",
        ),
        (
            json!({"concertId": "open-hall", "date": date, "seatNumber": 0}).to_string(),
            "INVALID_SEAT_NUMBER",
        ),
        (
            json!({"concertId": "open-hall", "date": date, "seatNumber": 100_001}).to_string(),
            "INVALID_SEAT_NUMBER",
        ),
        (
            json!({"concertId": "open hall", "date": date, "seatNumber": 4}).to_string(),
            "INVALID_CONCERT_ID",
        ),
    ] {
        let reply = check.hold_raw(&bo, &bo_token, &body).await;
        check.expect(&reply, 400, code);
    }
    let oversized = format!(r#"{{"note": "{}"}}"#, "x".repeat(17 * 1024));
    let too_big = check.hold_raw(&bo, &bo_token, &oversized).await;
    check.expect(&too_big, 413, "PAYLOAD_TOO_LARGE");
    let rich = server.as_user("rich");
    for _ in 0..100 {
        assert_eq!(check.charge(&rich, 10_000_000).await.status, 200);
    }
    let over = check.charge(&rich, 1).await;
    check.expect(&over, 409, "BALANCE_LIMIT_EXCEEDED");
    let no_route = check.check_named("RouteNotFound", server.anonymous().get("/nope").await);
    check.expect(&no_route, 404, "ROUTE_NOT_FOUND");
    let wrong_method = check.check_named(
        "MethodNotAllowed",
        bo.send(Method::PATCH, "/balance", None).await,
    );
    check.expect(&wrong_method, 405, "METHOD_NOT_ALLOWED");

    // `encore` opened meanwhile: the draw admitted one of the two (one seat, one active fan per
    // free seat); the other waits at position 1.
    let (mut first, mut second) = ((&wendy, &encore_tokens[0]), (&otto, &encore_tokens[1]));
    let mut admitted = false;
    for _ in 0..160 {
        if check.poll(first.0, first.1).await.body["status"] == "ACTIVE" {
            admitted = true;
            break;
        }
        if check.poll(second.0, second.1).await.body["status"] == "ACTIVE" {
            std::mem::swap(&mut first, &mut second);
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(admitted, "nobody was admitted at the opening");
    let waiting = check.poll_until(second.0, second.1, "WAITING").await;
    assert_eq!(waiting["position"], 1);
    let behind = check.dates(second.0, second.1, "encore").await;
    check.expect(&behind, 403, "QUEUE_NOT_ADMITTED");
    assert_eq!(behind.body["position"], 1);

    let (fan, token) = first;
    let encore_dates = check.dates(fan, token, "encore").await;
    assert_eq!(encore_dates.status, 200, "{}", encore_dates.body);
    let last_seat = json!({"concertId": "encore", "date": date, "seatNumber": 1});
    let held = check.hold(fan, token, last_seat).await;
    assert_eq!(held.status, 201, "{}", held.body);
    check.charge(fan, 50_000).await;
    let paid = check
        .pay(
            &fan.token(token),
            json!({"reservationId": held.body["reservationId"]}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.body);

    // Sold out: the fan still waiting is told, its token opens nothing, and the queue closes.
    let told = check.poll_until(second.0, second.1, "SOLD_OUT").await;
    assert_eq!(told["position"], 0);
    let ended = check.dates(second.0, second.1, "encore").await;
    check.expect(&ended, 401, "QUEUE_TOKEN_EXPIRED");
    let closed = check.join(&server.as_user("nadia"), "encore").await;
    check.expect(&closed, 409, "SOLD_OUT");
    let mut shown = false;
    for _ in 0..40 {
        let listed = check.check(
            "GET",
            "/concerts",
            server.as_user("viewer").get("/concerts").await,
        );
        let encore = listed.body["concerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["concertId"] == "encore")
            .cloned()
            .expect("encore is listed");
        if encore["soldOut"] == true {
            shown = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(shown, "GET /concerts never said soldOut");

    // Operators: the waiting room, a change, a concert added, and their refusals.
    let room = "/admin/concerts/{concertId}/waiting-room";
    let operator = server.anonymous().with("X-Operator-Id", "alice@ops");
    for (caller, path) in [
        (&operator, "/admin/concerts/encore/waiting-room"),
        (&operator, "/admin/concerts/no-such-show/waiting-room"),
        (
            &server.as_user("viewer"),
            "/admin/concerts/encore/waiting-room",
        ),
    ] {
        check.check("GET", room, caller.get(path).await);
    }
    for body in [
        r#"{"paused": true, "admitPerTick": 7}"#,
        r#"{"maxActive": 0}"#,
        "{}",
    ] {
        let reply = operator
            .send(
                reqwest::Method::PATCH,
                "/admin/concerts/encore/waiting-room",
                Some(body.to_owned()),
            )
            .await;
        check.check("PATCH", room, reply);
    }
    let concert = json!({"concertId": "pop-up", "title": "Pop-up", "dates": [day_from_now(40)],
        "seatPrices": [{"fromSeat": 1, "toSeat": 50, "price": 1000}]});
    let added = check.check(
        "POST",
        "/admin/concerts",
        operator.post("/admin/concerts", concert.clone()).await,
    );
    assert_eq!(added.status, 201, "{}", added.body);
    let again = check.check(
        "POST",
        "/admin/concerts",
        operator.post("/admin/concerts", concert).await,
    );
    check.expect(&again, 409, "CONCERT_EXISTS");
    let bad = check.check(
        "POST",
        "/admin/concerts",
        operator
            .post("/admin/concerts", json!({"concertId": "x"}))
            .await,
    );
    check.expect(&bad, 400, "INVALID_CATALOG");

    let statuses = check.statuses.lock().unwrap().clone();
    let expected: BTreeSet<u16> = [200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 422].into();
    assert!(
        expected.is_subset(&statuses),
        "the journey met only the statuses {statuses:?}"
    );
    let tickets = check.tickets.lock().unwrap().clone();
    let every_ticket: BTreeSet<String> = ["PRE_QUEUE", "WAITING", "ACTIVE", "SOLD_OUT"]
        .map(String::from)
        .into();
    assert_eq!(tickets, every_ticket);
    eprintln!(
        "checked statuses {statuses:?} and problem codes {:?}",
        check.codes.lock().unwrap()
    );
}

/// An operation's `parameters`, where given, is a list of parameters that resolve (a generator
/// refuses the operation otherwise), and every parameter the components define is used.
#[test]
fn every_operations_parameters_are_a_list_and_every_defined_one_is_used() {
    let spec = Spec::load();
    let mut used = std::collections::BTreeSet::new();
    for (path, item) in spec.doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let Some(parameters) = operation.get("parameters") else {
                continue;
            };
            let list = parameters
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path}: parameters is not a list"));
            assert!(
                !list.is_empty(),
                "{method} {path}: an empty parameters list"
            );
            for parameter in list {
                if let Some(reference) = parameter["$ref"].as_str() {
                    used.insert(reference.to_owned());
                }
                let resolved = spec.resolve(parameter);
                assert!(
                    resolved["name"].is_string() && resolved["in"].is_string(),
                    "{method} {path}: {parameter} is not a parameter"
                );
            }
        }
    }
    for name in spec.doc["components"]["parameters"]
        .as_object()
        .expect("components.parameters")
        .keys()
    {
        let reference = format!("#/components/parameters/{name}");
        assert!(used.contains(&reference), "{reference} is never used");
    }
}

/// Every example the document gives (responses, request bodies, parameters, headers and the
/// schemas' own), validated against the schema it illustrates.
#[test]
fn every_example_in_the_document_fits_its_schema() {
    let spec = Spec::load();
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut fits = |what: String, schema: &Value, example: &Value| {
        checked += 1;
        if let Err(why) = spec.errors(schema, example) {
            failures.push(format!("{what}: {why}"));
        }
    };
    let media_examples = |media: &Value| -> Vec<(String, Value)> {
        let mut found = Vec::new();
        if let Some(examples) = media["examples"].as_object() {
            for (name, example) in examples {
                found.push((name.clone(), spec.resolve(example)["value"].clone()));
            }
        }
        if let Some(example) = media.get("example") {
            found.push(("example".into(), example.clone()));
        }
        found
    };
    for (path, item) in spec.doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let Some(responses) = operation["responses"].as_object() else {
                continue;
            };
            for (status, response) in responses {
                let response = spec.resolve(response);
                for (media_type, media) in response["content"].as_object().into_iter().flatten() {
                    for (name, example) in media_examples(media) {
                        let what = format!("{method} {path} {status} {media_type} {name}");
                        fits(what, &media["schema"], &example);
                    }
                }
            }
            let body = spec.resolve(&operation["requestBody"]);
            for (media_type, media) in body["content"].as_object().into_iter().flatten() {
                for (name, example) in media_examples(media) {
                    let what = format!("{method} {path} request {media_type} {name}");
                    fits(what, &media["schema"], &example);
                }
            }
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let parameter = spec.resolve(parameter);
                if let Some(example) = parameter.get("example") {
                    let what = format!("{method} {path} parameter {}", parameter["name"]);
                    fits(what, &parameter["schema"], example);
                }
            }
        }
    }
    let components = &spec.doc["components"];
    for (name, response) in components["responses"].as_object().expect("responses") {
        for (media_type, media) in response["content"].as_object().into_iter().flatten() {
            for (example_name, example) in media_examples(media) {
                let what = format!("components.responses.{name} {media_type} {example_name}");
                fits(what, &media["schema"], &example);
            }
        }
    }
    for (name, header) in components["headers"].as_object().expect("headers") {
        if let Some(example) = header.get("example") {
            fits(
                format!("components.headers.{name}"),
                &header["schema"],
                example,
            );
        }
    }
    for (name, schema) in components["schemas"].as_object().expect("schemas") {
        for example in schema["examples"].as_array().into_iter().flatten() {
            fits(
                format!("components.schemas.{name} example"),
                &spec.named_schema(name),
                example,
            );
        }
    }
    // Every QueueTicket example, whatever uses it, fits QueueTicket; together they show every
    // status a ticket can have.
    let mut statuses = BTreeSet::new();
    for (name, example) in components["examples"].as_object().expect("examples") {
        let value = &example["value"];
        if value.get("token").is_some() {
            statuses.insert(value["status"].as_str().unwrap_or_default().to_owned());
            fits(
                format!("components.examples.{name} as a QueueTicket"),
                &spec.named_schema("QueueTicket"),
                value,
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 60, "only {checked} examples were found");
    let every_ticket: BTreeSet<String> = ["PRE_QUEUE", "WAITING", "ACTIVE", "SOLD_OUT"]
        .map(String::from)
        .into();
    assert_eq!(statuses, every_ticket);
}

/// Clients are told to tolerate growth: an answer's unknown field or code fits the document
/// as written, and so does API Gateway's own body where the gateway answers first.
#[test]
fn the_document_is_open_to_clients_where_the_check_is_strict() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let open = Spec { doc };
    let examples = &open.doc["components"]["examples"];
    let mut ticket = examples["WaitingTicket"]["value"].clone();
    ticket["addedLater"] = json!(true);
    assert_eq!(
        open.errors(&open.named_schema("QueueTicket"), &ticket),
        Ok(())
    );
    let later = json!({"type": "/problems/added-later", "title": "Added later", "status": 409,
        "code": "ADDED_LATER", "detail": "a code a later version added", "hint": 1});
    assert_eq!(open.errors(&open.named_schema("Problem"), &later), Ok(()));
    let gateway = json!({"message": "Unauthorized"});
    let either = open.named_schema("ProblemOrGatewayMessage");
    assert_eq!(open.errors(&either, &gateway), Ok(()));
    assert_eq!(open.errors(&either, &later), Ok(()));
    // Requests stay closed.
    let hold = json!({"concertId": "x", "date": "2026-12-24", "seatNumber": 1, "surprise": 1});
    assert!(open
        .errors(&open.named_schema("HoldSeatRequest"), &hold)
        .is_err());
}

/// The check itself bites: a stray field, a missing one, a wrong shape for a status, and a
/// status the operation does not document are all refused.
#[test]
fn the_check_refuses_what_the_document_does_not_say() {
    let spec = Spec::load();
    let ticket_schema = spec.named_schema("QueueTicket");
    let examples = &spec.doc["components"]["examples"];
    let ticket = examples["WaitingTicket"]["value"].clone();
    assert_eq!(spec.errors(&ticket_schema, &ticket), Ok(()));
    let refused = |change: &dyn Fn(&mut Value)| {
        let mut changed = ticket.clone();
        change(&mut changed);
        assert!(
            spec.errors(&ticket_schema, &changed).is_err(),
            "accepted {changed}"
        );
    };
    refused(&|t| t["surprise"] = json!(1));
    refused(&|t| {
        t.as_object_mut().unwrap().remove("pollAfterSeconds");
    });
    refused(&|t| t["pollAfterSeconds"] = json!(0));
    refused(&|t| t["token"] = json!("aurora-nights.98af752a180a45efb6907ece56518902"));
    refused(&|t| t["status"] = json!("PRE_QUEUE"));
    refused(&|t| t["position"] = json!(0));
    refused(&|t| {
        t["status"] = json!("ACTIVE");
        t["position"] = Value::Null;
    });
    refused(&|t| t["status"] = json!("SOLD_OUT"));
    refused(&|t| t["expiresAt"] = json!("2026-12-01T10:05:40.5Z"));

    let problem_schema = spec.named_schema("Problem");
    let not_admitted = json!({
        "type": "/problems/queue-not-admitted", "title": "Queue not admitted", "status": 403,
        "code": "QUEUE_NOT_ADMITTED", "detail": "wait", "position": null,
        "estimatedWaitSeconds": 5
    });
    assert_eq!(spec.errors(&problem_schema, &not_admitted), Ok(()));
    let mut without_position = not_admitted.clone();
    without_position.as_object_mut().unwrap().remove("position");
    assert!(spec.errors(&problem_schema, &without_position).is_err());
    let mut other_code = not_admitted.clone();
    other_code["code"] = json!("SEAT_UNAVAILABLE");
    assert!(spec.errors(&problem_schema, &other_code).is_err());
    let mut unknown_code = not_admitted;
    unknown_code["code"] = json!("NO_SUCH_CODE");
    assert!(spec.errors(&problem_schema, &unknown_code).is_err());

    let reply = |status: u16, body: Value| {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-request-id", "req-1".parse().unwrap());
        Reply {
            status: reqwest::StatusCode::from_u16(status).unwrap(),
            content_type: "application/json".into(),
            body,
            headers,
        }
    };
    assert_eq!(
        spec.verify("GET", "/queue/status", &reply(200, ticket.clone())),
        Ok(())
    );
    let mut unnamed = reply(200, ticket.clone());
    unnamed.headers.clear();
    assert!(spec.verify("GET", "/queue/status", &unnamed).is_err());
    assert!(spec
        .verify("GET", "/queue/status", &reply(202, ticket.clone()))
        .is_err());
    assert!(spec
        .verify("GET", "/queue/status", &reply(409, ticket.clone()))
        .is_err());
    assert!(spec
        .verify("POST", "/queue/status", &reply(200, ticket))
        .is_err());
}
