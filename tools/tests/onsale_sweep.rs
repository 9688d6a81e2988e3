//! The simulator as an adversary, seed after seed: a small on-sale with every fault at once
//! (calls refused, answers lost, calls late, ticks delivered twice and dying half-way, clocks
//! apart, openings off the ten-second boundary), and every rule must hold in every run; a third
//! of the runs buy in parties, by best available or seats picked from the chart, beside bots
//! that hold past the ticket limit. A seed that breaks one prints the command that replays it
//! exactly.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tools::onsale::{parse, run, Command};

const SEEDS: u64 = 200;

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

/// What broke in the run of `seed`, if anything.
fn play(seed: u64) -> Option<String> {
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
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (next, failures) = (next.clone(), failures.clone());
            std::thread::spawn(move || loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed > SEEDS {
                    break;
                }
                if let Some(failure) = play(seed) {
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
}
