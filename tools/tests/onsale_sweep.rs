//! The simulator as an adversary, seed after seed: a small on-sale with every fault at once
//! (calls refused, answers lost, calls late, ticks delivered twice and dying half-way, clocks
//! apart, openings off the ten-second boundary), and every rule must hold in every run; a third
//! of the runs buy in parties, by best available or seats picked from the chart, beside bots
//! that hold past the ticket limit and bots that spin seats (hold, release, hold again) until
//! told `429 TOO_MANY_HOLDS`. In every run a fifth of the fans pay in their hold's last seconds
//! while holding a seat more (the lapse-second race, with clocks apart): the simulator's own
//! account of what each fan owns must never exceed the ticket limit. Transactions conflict
//! (`TransactionConflict`) as on a busy DynamoDB, held long enough that some calls give up
//! after every retry. A seed that breaks one prints the command that replays it exactly.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tools::onsale::{parse, run, Command};

const SEEDS: u64 = 200;
/// Transactions held long (a slow, busy table) so that a small sale's holds, payments and
/// ticks meet on their items, and some calls give up after every resend.
const TRANSACTION_MS: &str = "50:400";

/// The run of `seed`: half of them with a pre-queue whose opening falls off the tick's
/// boundary (drawn by lottery), half first come, first served.
fn arguments(seed: u64) -> Vec<String> {
    let mut args: Vec<String> = [
        "--fans",
        "200",
        "--dates",
        "1",
        "--admit-per-tick",
        "20",
        "--max-active",
        "60",
        "--faults",
        "0.1",
        "--duplicate-ticks",
        "0.3",
        "--tick-crash",
        "0.2",
        "--clock-skew",
        "2",
        "--transaction-ms",
        TRANSACTION_MS,
        "--lapse-payers",
        "0.2",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    if seed % 2 == 0 {
        // 7, 13, 23 or 37 s before the sale: never a multiple of the 10 s tick.
        let before = [7, 13, 23, 37][(seed / 2 % 4) as usize];
        args.extend(["--join-rate".into(), "40".into()]);
        args.extend(["--queue-opens-before".into(), before.to_string()]);
    } else {
        args.extend(["--join-rate".into(), "20".into()]);
    }
    if seed % 3 == 0 {
        for arg in [
            "--party-sizes",
            "1:2,2:2,3:1,4:1",
            "--best-available",
            "0.5",
            "--bots",
            "20",
            "--spinning-bots",
            "0.6",
        ] {
            args.push(arg.into());
        }
    }
    args.extend(["--seed".into(), seed.to_string(), "--quiet".into()]);
    args
}

/// What a run met that the sweep must have seen somewhere: transactions cancelled for
/// conflicts, calls that gave up on them, lapse-second races whose new hold went through, and
/// holds answered `429 TOO_MANY_HOLDS`.
#[derive(Default)]
struct Met {
    conflicts: AtomicU64,
    gave_up: AtomicU64,
    races_held_again: AtomicU64,
    too_many_holds: AtomicU64,
}

/// What broke in the run of `seed`, if anything; what it met is added to `met`.
fn play(seed: u64, met: &Met) -> Option<String> {
    let args = arguments(seed);
    let Ok(Command::Run(options)) = parse(args.clone()) else {
        return Some(format!("the arguments did not parse: {args:?}"));
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime");
    let report = match runtime.block_on(run(&options)) {
        Ok(report) => report,
        Err(error) => return Some(format!("the run failed: {error:#}")),
    };
    met.conflicts
        .fetch_add(report.conflicts.conflicts, Ordering::Relaxed);
    met.gave_up
        .fetch_add(report.conflicts.gave_up, Ordering::Relaxed);
    met.races_held_again
        .fetch_add(report.holdings.lapse_race_holds, Ordering::Relaxed);
    met.too_many_holds
        .fetch_add(report.holdings.too_many_holds, Ordering::Relaxed);
    let mut broken = report.broken_rules();
    if report.sold != report.seats {
        broken.push(format!("sold {} of {} seats", report.sold, report.seats));
    }
    (!broken.is_empty()).then(|| {
        format!(
            "seed {seed}: {}\n  replay: cargo run --bin onsale -- {}",
            broken.join("; "),
            args.join(" ")
        )
    })
}

#[test]
fn every_rule_holds_for_every_seed_of_an_adversarial_on_sale() {
    let next = Arc::new(AtomicU64::new(1));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let met = Arc::new(Met::default());
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (next, failures, met) = (next.clone(), failures.clone(), met.clone());
            std::thread::spawn(move || loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed > SEEDS {
                    break;
                }
                if let Some(failure) = play(seed, &met) {
                    failures.lock().unwrap().push(failure);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a sweep worker");
    }
    let mut failures = failures.lock().unwrap().clone();
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} of {SEEDS} seeds broke a rule:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The conflicts were there to survive: transactions cancelled, and calls that gave up;
    // and so were the lapse-second races (a new hold beside the payment of the old) and the
    // spinning bots' last holds.
    let load = |count: &AtomicU64| count.load(Ordering::Relaxed);
    let (conflicts, gave_up) = (load(&met.conflicts), load(&met.gave_up));
    assert!(
        conflicts > 0 && gave_up > 0,
        "{conflicts} conflicts, {gave_up} gave up"
    );
    let (races, refused) = (load(&met.races_held_again), load(&met.too_many_holds));
    assert!(
        races > 0 && refused > 0,
        "{races} lapse-second races held again, {refused} holds answered 429"
    );
}
