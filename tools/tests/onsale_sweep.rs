//! The simulator as an adversary, seed after seed: a small on-sale with every fault at once
//! (calls refused, answers lost, calls late, ticks delivered twice and dying half-way, clocks
//! apart, openings off the ten-second boundary), and every rule must hold in every run; a third
//! of the runs buy in parties, by best available or seats picked from the chart, beside bots
//! that hold past the ticket limit. Transactions conflict (`TransactionConflict`) as on a busy
//! DynamoDB, held long enough that some calls give up after every retry. A seed that breaks one prints the command that replays it
//! exactly.

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
            "5",
        ] {
            args.push(arg.into());
        }
    }
    args.extend(["--seed".into(), seed.to_string(), "--quiet".into()]);
    args
}

/// What broke in the run of `seed`, if anything; and its transactions cancelled for
/// conflicts, and calls that gave up on them.
fn play(seed: u64) -> (Option<String>, u64, u64) {
    let args = arguments(seed);
    let Ok(Command::Run(options)) = parse(args.clone()) else {
        return (Some(format!("the arguments did not parse: {args:?}")), 0, 0);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime");
    let report = match runtime.block_on(run(&options)) {
        Ok(report) => report,
        Err(error) => return (Some(format!("the run failed: {error:#}")), 0, 0),
    };
    let mut broken = report.broken_rules();
    if report.sold != report.seats {
        broken.push(format!("sold {} of {} seats", report.sold, report.seats));
    }
    let failure = (!broken.is_empty()).then(|| {
        format!(
            "seed {seed}: {}\n  replay: cargo run --bin onsale -- {}",
            broken.join("; "),
            args.join(" ")
        )
    });
    (
        failure,
        report.conflicts.conflicts,
        report.conflicts.gave_up,
    )
}

#[test]
fn every_rule_holds_for_every_seed_of_an_adversarial_on_sale() {
    let next = Arc::new(AtomicU64::new(1));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let conflicts = Arc::new(AtomicU64::new(0));
    let gave_up = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (next, failures) = (next.clone(), failures.clone());
            let (conflicts, gave_up) = (conflicts.clone(), gave_up.clone());
            std::thread::spawn(move || loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed > SEEDS {
                    break;
                }
                let (failure, cancelled, busy) = play(seed);
                conflicts.fetch_add(cancelled, Ordering::Relaxed);
                gave_up.fetch_add(busy, Ordering::Relaxed);
                if let Some(failure) = failure {
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
    // The conflicts were there to survive: transactions cancelled, and calls that gave up.
    let (conflicts, gave_up) = (
        conflicts.load(Ordering::Relaxed),
        gave_up.load(Ordering::Relaxed),
    );
    assert!(
        conflicts > 0 && gave_up > 0,
        "{conflicts} conflicts, {gave_up} gave up"
    );
}
