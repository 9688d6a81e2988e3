//! The on-sale simulator as a user runs it: its flags, its report, and the same run for the same
//! seed. (The meter it relies on is held to the DynamoDB store in `shared/tests/meter.rs`.)

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// A scratch folder removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("onsale-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn onsale(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_onsale"))
        .args(args)
        .arg("--quiet")
        .output()
        .expect("run onsale")
}

/// Runs `onsale` with `args` and its JSON report in the scratch folder: the report, and the
/// summary it printed.
fn reported(scratch: &Scratch, name: &str, args: &[&str]) -> (Value, String) {
    let json = scratch.0.join(format!("{name}.json"));
    let mut args = args.to_vec();
    args.extend(["--json", json.to_str().unwrap()]);
    let output = onsale(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (report, String::from_utf8(output.stdout).unwrap())
}

/// A small sale that sells out: 400 fans for the 50 seats of one date, nobody giving up.
fn small_sale(scratch: &Scratch, name: &str, seed: &str) -> Value {
    let svg = scratch.0.join(format!("{name}.svg"));
    let (report, summary) = reported(
        scratch,
        name,
        &[
            "--fans",
            "400",
            "--join-rate",
            "50",
            "--dates",
            "1",
            "--abandon-rate",
            "0",
            "--seed",
            seed,
            "--svg",
            svg.to_str().unwrap(),
        ],
    );
    assert!(summary.contains("sold 50 of 50 seats"), "{summary}");
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(picture.starts_with("<svg") && picture.contains("polyline"));
    assert!(picture.contains("free seats (neither held nor sold) and fans waiting"));
    assert!(summary.contains("idle_seat_seconds"), "{summary}");
    report
}

#[test]
fn a_small_sale_sells_out_with_its_figures_reported() {
    let scratch = Scratch::new();
    let report = small_sale(&scratch, "run", "7");
    assert_eq!(report["settings"]["fans"], 400);
    let fans = &report["fans"];
    assert_eq!(
        (fans["joined"].as_u64(), fans["lost"].as_u64()),
        (Some(400), Some(0))
    );
    assert_eq!(fans["bought"], 50, "{fans}");
    for field in [
        "admitted",
        "dropped_idle",
        "told_sold_out",
        "gave_up",
        "waiting_at_end",
    ] {
        assert!(fans[field].is_u64(), "{field}");
    }
    // A perfect world: nothing injected, every position exact.
    let faults = &report["faults"];
    for field in [
        "refused",
        "lost_answers",
        "slow",
        "duplicate_ticks",
        "crashed_ticks",
    ] {
        assert_eq!(faults[field], 0, "{field}");
    }
    assert_eq!(report["positions"]["exact"], report["positions"]["checked"]);
    assert_eq!(report["active"]["peak_over_max_active"], 0);
    assert_eq!(
        (report["seats"].as_u64(), report["sold"].as_u64()),
        (Some(50), Some(50))
    );
    assert!(report["sellout_seconds"].as_u64().is_some());
    assert_eq!(report["invariants"]["ok"], true, "{}", report["invariants"]);
    assert!(report["waiting_peak"].as_u64().unwrap() > 0);
    the_tail_is_reported_from_the_seconds(&report);
    for field in ["simulated_seconds", "wall_seconds"] {
        assert!(report[field].is_number(), "{field}");
    }
    let requests = &report["requests"];
    assert!(requests["total"].as_u64().unwrap() > 400);
    for field in [
        "per_fan",
        "per_sold_seat",
        "peak_api_per_second",
        "peak_polls_per_second",
    ] {
        assert!(requests[field].as_f64().unwrap() > 0.0, "{field}");
    }
    for operation in ["GetItem", "TransactWriteItems", "BatchGetItem"] {
        assert!(
            requests["by_operation"][operation].as_u64().unwrap() > 0,
            "{operation}"
        );
    }
    let dynamodb = &report["dynamodb"];
    assert!(dynamodb["read_units"].as_f64().unwrap() > 0.0);
    assert!(dynamodb["write_units"].as_f64().unwrap() > 0.0);
    let cost = dynamodb["cost_usd"].as_f64().unwrap();
    let per_thousand = dynamodb["cost_usd_per_1000_sold_seats"].as_f64().unwrap();
    assert!((per_thousand - cost / 50.0 * 1000.0).abs() < 1e-9);
    let hot = report["hot_keys"].as_array().unwrap();
    assert!(!hot.is_empty() && hot.len() <= 20);
    for key in hot {
        assert!(["item", "partition"].contains(&key["scope"].as_str().unwrap()));
        assert!(key["peak_read_units_per_second"].is_number());
        assert!(key["peak_write_units_per_second"].is_number());
    }
    // The table's busiest second holds at least its hottest partition's, and at most everything.
    for (peak, total, of_key) in [
        (
            "peak_read_units_per_second",
            "read_units",
            "peak_read_units_per_second",
        ),
        (
            "peak_write_units_per_second",
            "write_units",
            "peak_write_units_per_second",
        ),
    ] {
        let table_peak = dynamodb[peak].as_f64().unwrap();
        let hottest = hot
            .iter()
            .filter(|k| k["scope"] == "partition")
            .map(|k| k[of_key].as_f64().unwrap())
            .fold(0.0, f64::max);
        assert!(
            hottest <= table_peak && table_peak <= dynamodb[total].as_f64().unwrap(),
            "{peak}: {hottest} <= {table_peak}"
        );
    }
    assert!(report["over_limit"].is_array() && report["over_half_limit"].is_array());
    assert!(report["fairness"]["inversions"].is_u64());
    let positions = &report["positions"];
    assert!(positions["checked"].as_u64().unwrap() > 200);
    for field in [
        "exact",
        "behind",
        "max_behind",
        "ahead_of_truth",
        "max_ahead",
    ] {
        assert!(positions[field].is_u64(), "{field}");
    }
}

/// The tail's figures agree with the per-second series they come from: each share of the seats
/// was first sold in the second named, the last one at the sell-out, and the idle seats summed.
fn the_tail_is_reported_from_the_seconds(report: &Value) {
    let series = |name: &str| -> Vec<u64> {
        report["per_second"][name]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as u64)
            .collect()
    };
    let sold = series("sold");
    let seats = report["seats"].as_u64().unwrap();
    let mut previous = 0;
    for percent in [50, 90, 99, 100] {
        let second = report[format!("sold_{percent}_percent_seconds")]
            .as_u64()
            .unwrap_or_else(|| panic!("{percent}% sold"));
        let share = |s: usize| sold[s] * 100 >= seats * percent;
        assert!(share(second as usize), "{percent}% by {second}");
        assert!(
            second == 0 || !share(second as usize - 1),
            "{percent}% first at {second}"
        );
        assert!(second >= previous);
        previous = second;
    }
    assert_eq!(
        report["sold_100_percent_seconds"],
        report["sellout_seconds"]
    );
    let idle = report["idle_seat_seconds"].as_u64().unwrap();
    assert_eq!(idle, series("idle_seats").iter().sum::<u64>());
    let from_90 = report["sold_90_percent_seconds"].as_u64().unwrap() as usize;
    assert_eq!(
        report["tail_idle_seat_seconds"].as_u64().unwrap(),
        series("idle_seats")[from_90..].iter().sum::<u64>()
    );
    // The first seconds: fans waiting for their turn, every seat free.
    assert!(
        idle > 0,
        "no idle seat-second in a sale that starts with a queue"
    );
    let free = series("free_seats");
    let waiting = series("waiting");
    for (s, idle) in series("idle_seats").iter().enumerate() {
        let starved = free[s] > 0 && waiting[s] > 0;
        assert_eq!(*idle, if starved { free[s] } else { 0 }, "second {s}");
    }
    let fans = report["fans_waiting_while_seats_free"].as_u64().unwrap();
    let fan_seconds = report["fan_seconds_waiting_while_seats_free"]
        .as_u64()
        .unwrap();
    assert!(0 < fans && fans <= report["fans"]["joined"].as_u64().unwrap());
    assert!(
        fan_seconds >= fans,
        "{fan_seconds} fan-seconds for {fans} fans"
    );
    assert!(
        report["starved_seconds"].as_u64().unwrap()
            >= report["longest_starved_run_seconds"].as_u64().unwrap()
    );
}

#[test]
fn the_same_seed_plays_the_same_sale() {
    let scratch = Scratch::new();
    let without_wall_time = |mut report: Value| {
        report["wall_seconds"] = Value::Null;
        report
    };
    let first = without_wall_time(small_sale(&scratch, "first", "3"));
    let second = without_wall_time(small_sale(&scratch, "second", "3"));
    assert_eq!(first, second);
}

#[test]
fn bad_flags_get_one_line_and_exit_2() {
    for args in [
        &["--fans", "none"][..],
        &["--join-rate", "0"],
        &["--abandon-rate", "1.5"],
        &["--tick-seconds", "0"],
        &["--transaction-ms", "20"],
        &["--transaction-ms", "30:10"],
        &["--unknown"],
    ] {
        let output = onsale(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let error = String::from_utf8(output.stderr).unwrap();
        assert_eq!(error.lines().count(), 1, "{error}");
        assert!(
            error.starts_with("onsale: ") && error.contains(args[0]),
            "{error}"
        );
    }
    let help = onsale(&["--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8(help.stdout)
        .unwrap()
        .contains("--join-rate"));
}

#[test]
fn a_pre_queue_is_drawn_at_the_opening_and_told_when_all_is_sold() {
    let scratch = Scratch::new();
    let (report, _) = reported(
        &scratch,
        "pre",
        &[
            "--fans",
            "3000",
            "--join-rate",
            "20",
            "--queue-opens-before",
            "100",
            "--dates",
            "1",
            "--abandon-rate",
            "0",
        ],
    );
    let lottery = &report["lottery"];
    assert_eq!(lottery["pre_queue_fans"], 2000);
    assert!(
        lottery["spearman"].as_f64().unwrap().abs() < 0.1,
        "{lottery}"
    );
    assert_eq!(lottery["out_of_order"], 0);
    assert_eq!(report["positions"]["ahead_of_truth"], 0);
    assert_eq!(report["positions"]["behind"], 0);
    assert_eq!(
        (lottery["draws"].as_u64(), lottery["seeds_used"].as_u64()),
        (Some(1), Some(1))
    );
    let sold_out = &report["sold_out"];
    assert!(sold_out["last_sale_second"].is_u64(), "{sold_out}");
    let tick = report["settings"]["tick_seconds"].as_u64().unwrap();
    assert!(
        sold_out["still_waiting_after_sellout_max_seconds"]
            .as_u64()
            .unwrap_or(0)
            <= tick
    );
}

#[test]
fn a_crowd_buying_parties_with_bots_keeps_every_fan_within_the_limit() {
    let scratch = Scratch::new();
    let (report, summary) = reported(
        &scratch,
        "buying",
        &[
            "--fans",
            "3000",
            "--join-rate",
            "100",
            "--dates",
            "12",
            "--party-sizes",
            "1:40,2:40,3:10,4:10",
            "--best-available",
            "0.5",
            "--bots",
            "30",
        ],
    );
    let buying = &report["buying"];
    assert_eq!(report["sold"], 600, "{buying}");
    assert_eq!(buying["ticket_limit"], 4);
    assert!(
        buying["seats_per_fan_max"].as_u64().unwrap() <= 4,
        "{buying}"
    );
    // Bots asked past the limit and were refused; they never pay.
    assert!(
        buying["tickets_limit_refusals"].as_u64().unwrap() > 0,
        "{buying}"
    );
    assert_eq!(buying["bots"], 30);
    assert_eq!(buying["seats_bought_by_bots"], 0);
    assert!(
        buying["best_available_holds"].as_u64().unwrap() > 0,
        "{buying}"
    );
    assert!(buying["picked_holds"].as_u64().unwrap() > 0, "{buying}");
    assert_eq!(report["invariants"]["ok"], true, "{}", report["invariants"]);
    assert!(summary.contains("rules: every one held"), "{summary}");
}

#[test]
fn a_stadium_sells_out_a_section_at_a_time() {
    let scratch = Scratch::new();
    let (report, summary) = reported(
        &scratch,
        "stadium",
        &[
            "--fans",
            "4000",
            "--join-rate",
            "400",
            "--admit-per-tick",
            "1000",
            "--max-active",
            "4000",
            "--dates",
            "2",
            "--seats-per-date",
            "3000",
            "--section-size",
            "500",
            "--party-sizes",
            "1:40,2:40,3:10,4:10",
            "--best-available",
            "0.5",
            "--abandon-rate",
            "0",
            "--bots",
            "5",
        ],
    );
    assert!(
        summary.contains("2 dates of 3000 seats in 6 sections of 500"),
        "{summary}"
    );
    // Sold out, every seat once (the audit), every rule held.
    assert_eq!(
        (report["seats"].as_u64(), report["sold"].as_u64()),
        (Some(6000), Some(6000))
    );
    assert!(report["sellout_seconds"].as_u64().is_some());
    assert_eq!(report["invariants"]["ok"], true, "{}", report["invariants"]);
    assert!(summary.contains("rules: every one held"), "{summary}");
    assert_eq!(report["positions"]["ahead_of_truth"], 0);
    // Fans listed the sections, then a section; both ways of ordering sold.
    let endpoints = &report["requests"]["api_by_endpoint"];
    assert!(
        endpoints["list-sections"].as_u64().unwrap() > 0,
        "{endpoints}"
    );
    assert!(endpoints["list-seats"].as_u64().unwrap() > 0, "{endpoints}");
    let buying = &report["buying"];
    assert!(buying["picked_holds"].as_u64().unwrap() > 0, "{buying}");
    assert!(
        buying["best_available_holds"].as_u64().unwrap() > 0,
        "{buying}"
    );
    assert!(buying["hold_conflicts_per_hold"].is_number(), "{buying}");
    // No item on the buying path over 8 KB, no key over half its limit.
    let largest = buying["largest_item_bytes"].as_u64().unwrap();
    assert!(0 < largest && largest <= 8192, "{buying}");
    assert!(!buying["largest_item_key"].as_str().unwrap().is_empty());
    assert_eq!(report["over_half_limit_count"], 0, "{}", report["hot_keys"]);
    let dynamodb = &report["dynamodb"];
    assert!(dynamodb["cost_usd_per_1000_sold_seats"].as_f64().unwrap() > 0.0);
}

/// Transactions held 50 to 250 ms, holds and payments crowding one section of three blocks (so
/// three ledger shards): DynamoDB would cancel many attempts on them for conflicts, and some
/// calls give up after every retry (503 SERVICE_BUSY). Nothing is lost or counted twice for it.
#[test]
fn transactions_on_a_hot_item_conflict_and_nothing_is_lost_or_doubled() {
    let scratch = Scratch::new();
    let svg = scratch.0.join("hot.svg");
    let (report, summary) = reported(
        &scratch,
        "hot",
        &[
            "--fans",
            "1000",
            "--join-rate",
            "200",
            "--admit-per-tick",
            "200",
            "--max-active",
            "1000",
            "--dates",
            "1",
            "--seats-per-date",
            "300",
            "--section-size",
            "300",
            "--party-sizes",
            "1:40,2:40,3:10,4:10",
            "--best-available",
            "0.5",
            "--abandon-rate",
            "0",
            "--transaction-ms",
            "50:250",
            "--svg",
            svg.to_str().unwrap(),
        ],
    );
    let conflicts = &report["conflicts"];
    let count = conflicts["conflicts"].as_u64().unwrap();
    let attempts = conflicts["attempts"].as_u64().unwrap();
    assert!(0 < count && count < attempts, "{conflicts}");
    assert!(conflicts["gave_up"].as_u64().unwrap() > 0, "{conflicts}");
    assert!(report["buying"]["holds_busy"].as_u64().unwrap() > 0);
    // The hottest item is a ledger shard, every hold and payment of its sections writes it.
    let hottest = &conflicts["hottest"][0];
    assert!(
        hottest["key"].as_str().unwrap().starts_with("LEDGER#"),
        "{conflicts}"
    );
    let rate = hottest["rate"].as_f64().unwrap();
    assert!(0.0 < rate && rate <= 1.0, "{hottest}");
    assert!(hottest["conflicts"].as_u64() <= hottest["attempts"].as_u64());
    // Per second, they add up to the run's.
    let per_second: f64 = report["per_second"]["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert_eq!(per_second as u64, count);
    assert!(
        summary.contains(&format!("conflicts: {count} of {attempts}")),
        "{summary}"
    );
    assert!(std::fs::read_to_string(&svg).unwrap().contains("conflicts"));
    // Every seat sold once and paid once (the audit), no fan lost, every rule held.
    assert_eq!(
        (report["seats"].as_u64(), report["sold"].as_u64()),
        (Some(300), Some(300))
    );
    assert_eq!(report["invariants"]["ok"], true, "{}", report["invariants"]);
    assert_eq!(report["fans"]["lost"], 0);
    assert!(summary.contains("rules: every one held"), "{summary}");
    // The items written most, with their size and units; the largest written on the way.
    let written = &report["most_written"][0];
    assert!(
        written["peak_writes_per_second"].as_u64().unwrap() > 1,
        "{written}"
    );
    assert!(written["bytes"].as_u64().unwrap() > 0, "{written}");
    assert!(written["write_units_per_write"].as_f64().unwrap() >= 2.0);
    let buying = &report["buying"];
    let largest = buying["largest_written_bytes"].as_u64().unwrap();
    assert!(0 < largest && largest <= buying["largest_item_bytes"].as_u64().unwrap());
    assert!(buying["largest_written_units"].as_f64().unwrap() >= 2.0);
}

#[test]
fn transactions_never_conflict_when_told_so() {
    let scratch = Scratch::new();
    let (report, _) = reported(
        &scratch,
        "calm",
        &[
            "--fans",
            "200",
            "--join-rate",
            "50",
            "--dates",
            "1",
            "--transaction-ms",
            "0",
        ],
    );
    assert_eq!(report["conflicts"]["attempts"], 0);
    assert_eq!(report["conflicts"]["conflicts"], 0);
    assert_eq!(report["sold"], 50);
}

#[test]
fn sections_are_refused_past_two_hundred() {
    let output = onsale(&["--seats-per-date", "60000", "--section-size", "299"]);
    assert_eq!(output.status.code(), Some(2));
    let error = String::from_utf8(output.stderr).unwrap();
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(
        error.contains("--section-size") && error.contains("at most 200"),
        "{error}"
    );
}

/// Bots that spin seats (hold all the limit allows, keep it a few seconds, release it, hold
/// again) are stopped by `429 TOO_MANY_HOLDS` once their session placed MAX_HOLDS_PER_SESSION
/// holds; the report counts the seat-seconds they kept from fans, the 429s, and their share of
/// the seats sold against their share of the crowd.
#[test]
fn spinning_bots_are_stopped_at_the_sessions_holds_with_what_they_kept_reported() {
    let scratch = Scratch::new();
    let spin = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "--fans",
            "300",
            "--join-rate",
            "50",
            "--dates",
            "4",
            "--abandon-rate",
            "0",
            "--bots",
            "20",
            "--spinning-bots",
            "1",
        ];
        args.extend(extra);
        reported(&scratch, name, &args)
    };
    let (report, summary) = spin("spinning", &[]);
    let holdings = &report["holdings"];
    assert_eq!(holdings["spinning_bots"], 20, "{holdings}");
    // MAX_HOLDS_PER_SESSION's default: reached, never passed, and then 429 (never to a fan).
    assert_eq!(holdings["most_holds_a_bot_session"], 10, "{holdings}");
    assert!(holdings["most_holds_a_session"].as_u64().unwrap() <= 10);
    let refused = holdings["too_many_holds"].as_u64().unwrap();
    assert!(refused > 0, "{holdings}");
    assert_eq!(holdings["too_many_holds_to_fans"], 0, "{holdings}");
    assert!(holdings["releases"].as_u64().unwrap() > 0, "{holdings}");
    let kept = holdings["bot_seat_seconds"].as_u64().unwrap();
    assert!(
        0 < kept && kept <= holdings["seat_seconds"].as_u64().unwrap(),
        "{holdings}"
    );
    let crowd = holdings["bots_share_of_crowd"].as_f64().unwrap();
    assert!((crowd - 20.0 / 320.0).abs() < 1e-9, "{holdings}");
    assert_eq!(holdings["bots_share_of_sold"], 0.0, "{holdings}");
    // Nobody owned more than the limit, the sale sold out, every rule held.
    assert_eq!(holdings["over_limit"], 0, "{holdings}");
    assert!(holdings["owned_max"].as_u64().unwrap() <= 4, "{holdings}");
    assert_eq!(report["sold"], 200);
    assert!(summary.contains("rules: every one held"), "{summary}");
    assert!(
        summary.contains(&format!("{refused} answered 429 TOO_MANY_HOLDS")),
        "{summary}"
    );

    // A tighter bound stops them sooner: fewer holds a session, less kept from fans. (Each
    // session the bound stops is told 429 once, whichever the bound: how many are told depends
    // on how many bots were admitted, not on the bound.)
    let (tight, _) = spin("tight", &["--max-holds-per-session", "3"]);
    let tight = &tight["holdings"];
    assert_eq!(tight["most_holds_a_bot_session"], 3, "{tight}");
    assert!(tight["too_many_holds"].as_u64().unwrap() > 0, "{tight}");
    assert_eq!(tight["too_many_holds_to_fans"], 0, "{tight}");
    assert!(
        tight["bot_seat_seconds"].as_u64().unwrap() < kept,
        "{tight}"
    );
}

/// Fans who walk away from checkout while holding seats: their pages release the orders as they
/// go, so the last seats sell within a hold's length of the 99th percentile; when no page sends
/// anything (`--leaving-releases 0`), every such order keeps its seats until it lapses.
#[test]
fn orders_left_at_checkout_go_back_on_sale_when_the_page_releases_them() {
    let scratch = Scratch::new();
    let sale = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "--fans",
            "2000",
            "--join-rate",
            "200",
            "--dates",
            "1",
            "--abandon-rate",
            "0.05",
            "--seed",
            "3",
        ];
        args.extend(extra);
        reported(&scratch, name, &args).0
    };
    let sold_at = |report: &Value, share: u32| {
        report[format!("sold_{share}_percent_seconds")]
            .as_u64()
            .unwrap_or_else(|| panic!("{share}% sold: {report}"))
    };
    let released = sale("released", &[]);
    let lapsed = sale("lapsed", &["--leaving-releases", "0"]);
    for report in [&released, &lapsed] {
        assert_eq!(report["sold"], 50, "{}", report["fans"]);
        assert_eq!(report["invariants"]["ok"], true, "{}", report["invariants"]);
        assert_eq!(report["positions"]["ahead_of_truth"], 0);
    }
    let holdings = &released["holdings"];
    let left = holdings["released_on_leaving"].as_u64().unwrap();
    assert!(left > 0, "{holdings}");
    assert!(holdings["releases"].as_u64().unwrap() > 0, "{holdings}");
    assert_eq!(lapsed["holdings"]["released_on_leaving"], 0);
    // HOLD_SECONDS plus a minute after the 99th percentile, at most; without the releases, the
    // last seat waits for an order walked away from to lapse.
    assert!(
        sold_at(&released, 100) <= sold_at(&released, 99) + 360,
        "{released}"
    );
    assert!(
        sold_at(&lapsed, 100) >= sold_at(&released, 100) + 240,
        "released: sold out at {} s; lapsed: {} s",
        sold_at(&released, 100),
        sold_at(&lapsed, 100)
    );
}
