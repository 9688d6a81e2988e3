//! What the run did, for people: the proxy's fault counts, the answers by endpoint, how the
//! fans ended, and one summary line that `scripts/test` prints after the tests (passing tests'
//! output is captured, so the line goes through a file).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::fan::{compact, End, FanRecord};

pub type Tally = BTreeMap<&'static str, BTreeMap<String, u64>>;

pub struct Report<'a> {
    pub fault_rate: f64,
    pub conflict_window_ms: u64,
    pub run: Duration,
    pub run_limit: Duration,
    pub settle: Duration,
    pub audit: Duration,
    pub fans: &'a [FanRecord],
    pub faults: &'a Value,
    pub run_answers: &'a Tally,
    pub settle_answers: &'a Tally,
    pub broken: &'a [String],
}

const FAULTS: [&str; 4] = ["throttle", "server_error", "lost_response", "late_answer"];
/// The report lists the items most conflicted on, this many.
const CONFLICTED_KEYS_SHOWN: usize = 8;

impl Report<'_> {
    /// `chaos: 40 fans, 38 paid, …` on one line.
    pub fn summary(&self) -> String {
        let faults = FAULTS
            .iter()
            .map(|f| format!("{f} {}", self.faults["faults"][f]))
            .collect::<Vec<_>>()
            .join(", ");
        let mut classes: BTreeMap<&str, u64> = BTreeMap::new();
        for (outcome, count) in self.run_answers.values().flatten() {
            let class = match outcome.as_bytes().first() {
                Some(b'2') => "2xx",
                Some(b'4') => "4xx",
                Some(b'5') => "5xx",
                _ if outcome.starts_with("timeout") => "timeouts",
                _ => "transport errors",
            };
            *classes.entry(class).or_default() += count;
        }
        let answers = classes
            .iter()
            .map(|(class, count)| format!("{count} {class}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "chaos: {} fans, {}; {} broken rules; {:.1} s at fault rate {} \
             ({} DynamoDB requests forwarded; injected {faults}; {} transaction conflicts \
             in a {} ms window); API answers: {answers}",
            self.fans.len(),
            self.endings(),
            self.broken.len(),
            self.run.as_secs_f64(),
            self.fault_rate,
            self.faults["forwarded"],
            self.faults["conflicts"],
            self.conflict_window_ms,
        )
    }

    /// `38 paid, 2 out of time (pay 1, hold 1)`.
    fn endings(&self) -> String {
        let mut ends: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
        for fan in self.fans {
            let (end, stage) = match fan.end {
                End::Paid => ("paid", ""),
                End::NoSeatLeft => ("no seat left", ""),
                End::OutOfTime(stage) => ("out of time", stage),
                End::Surprised(stage) => ("surprised", stage),
            };
            *ends.entry(end).or_default().entry(stage).or_default() += 1;
        }
        ends.iter()
            .map(|(end, stages)| {
                let total: usize = stages.values().sum();
                let detail = stages
                    .iter()
                    .filter(|(stage, _)| !stage.is_empty())
                    .map(|(stage, n)| format!("{stage} {n}"))
                    .collect::<Vec<_>>();
                if detail.is_empty() {
                    format!("{total} {end}")
                } else {
                    format!("{total} {end} (at {})", detail.join(", "))
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.summary());
        let _ = writeln!(
            out,
            "\nrun {:.1} s (limit {} s), settle {:.1} s, audit {:.1} s",
            self.run.as_secs_f64(),
            self.run_limit.as_secs(),
            self.settle.as_secs_f64(),
            self.audit.as_secs_f64()
        );
        let mut paid: Vec<f64> = self
            .fans
            .iter()
            .filter(|f| f.end == End::Paid)
            .map(|f| f.took.as_secs_f64())
            .collect();
        paid.sort_by(f64::total_cmp);
        if let (Some(first), Some(last)) = (paid.first(), paid.last()) {
            let _ = writeln!(
                out,
                "journeys that ended in a payment took {first:.1} s to {last:.1} s (median {:.1} s)",
                paid[paid.len() / 2]
            );
        }
        let mut admitted: Vec<f64> = self
            .fans
            .iter()
            .filter_map(|f| f.admitted_after.map(|a| a.as_secs_f64()))
            .collect();
        admitted.sort_by(f64::total_cmp);
        if let (Some(first), Some(last)) = (admitted.first(), admitted.last()) {
            let _ = writeln!(
                out,
                "{} fans saw ACTIVE {first:.1} s to {last:.1} s into their journey (median {:.1} s)",
                admitted.len(),
                admitted[admitted.len() / 2]
            );
        }
        let _ = writeln!(
            out,
            "\nfaults and conflicts (writes refused for a transaction in flight on one of their \
             items) injected by the proxy, by DynamoDB operation:"
        );
        let _ = writeln!(
            out,
            "  {:<26}{:>10}{:>10}{:>14}{:>15}{:>13}{:>10}",
            "operation",
            "forwarded",
            "throttle",
            "server_error",
            "lost_response",
            "late_answer",
            "conflict"
        );
        let mut operations: Vec<(&str, &Value)> = self.faults["byOperation"]
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.as_str(), v)).collect())
            .unwrap_or_default();
        let totals = {
            let mut t = self.faults["faults"].clone();
            t["forwarded"] = self.faults["forwarded"].clone();
            t["conflict"] = self.faults["conflicts"].clone();
            t
        };
        operations.push(("(all)", &totals));
        for (operation, counts) in operations {
            let n = |field: &str| counts[field].as_u64().unwrap_or(0);
            let _ = writeln!(
                out,
                "  {:<26}{:>10}{:>10}{:>14}{:>15}{:>13}{:>10}",
                operation,
                n("forwarded"),
                n("throttle"),
                n("server_error"),
                n("lost_response"),
                n("late_answer"),
                n("conflict")
            );
        }
        if let Some(keys) = self.faults["conflictsByKey"].as_object() {
            let mut keys: Vec<(u64, &str)> = keys
                .iter()
                .map(|(key, count)| (count.as_u64().unwrap_or(0), key.as_str()))
                .collect();
            keys.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
            let _ = writeln!(out, "\nitems most conflicted on (of {}):", keys.len());
            for (count, key) in keys.iter().take(CONFLICTED_KEYS_SHOWN) {
                let _ = writeln!(out, "  {count:>5}  {key}");
            }
        }
        let _ = writeln!(
            out,
            "\nAPI answers by endpoint during the run (every attempt):"
        );
        table(&mut out, self.run_answers);
        if !self.settle_answers.is_empty() {
            let _ = writeln!(out, "\nafter the run, faults off (settling and audit):");
            table(&mut out, self.settle_answers);
        }
        let unfinished: Vec<String> = self
            .fans
            .iter()
            .filter(|f| f.end != End::Paid)
            .map(|f| {
                let mut line = format!("  {}: {:?}", f.user, f.end);
                for charge in &f.charges {
                    let _ = write!(line, "; {} {}", charge.key, compact(&charge.answers));
                }
                if let Some(payment) = &f.payment {
                    let _ = write!(line, "; {} {}", payment.key, compact(&payment.answers));
                    if payment.unpaid {
                        line.push_str(" (reservation still HELD: not paid)");
                    }
                }
                line
            })
            .collect();
        if !unfinished.is_empty() {
            let _ = writeln!(out, "\nfans who did not pay:\n{}", unfinished.join("\n"));
        }
        if !self.broken.is_empty() {
            let _ = writeln!(out, "\nbroken rules:");
            for rule in self.broken {
                let _ = writeln!(out, "  - {rule}");
            }
        }
        out
    }

    /// Writes the report and the summary line next to the test's other scratch files.
    pub fn save(&self, dir: &Path) {
        let _ = std::fs::write(dir.join("chaos-report.txt"), self.render());
        let _ = std::fs::write(dir.join("chaos-summary.txt"), self.summary() + "\n");
    }
}

fn table(out: &mut String, tally: &Tally) {
    let width = tally.keys().map(|e| e.len()).max().unwrap_or(0) + 2;
    for (endpoint, outcomes) in tally {
        let cells = outcomes
            .iter()
            .map(|(outcome, count)| format!("{outcome}: {count}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(out, "  {endpoint:<width$}{cells}");
    }
}
