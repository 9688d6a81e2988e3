//! DynamoDB's view of the on-sale: the metered requests summed per simulated second, per item
//! and per partition key, held against the per-partition ceiling of 3,000 read and 1,000 write
//! units a second; totals, cost, and the hottest keys.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;
use ticketing::store::meter::DynamoRequest;

pub const READ_LIMIT: f64 = 3_000.0;
pub const WRITE_LIMIT: f64 = 1_000.0;
/// On-demand prices, US dollars per million units.
const READ_PRICE: f64 = 0.125;
const WRITE_PRICE: f64 = 0.625;
/// Keys below this many units in every second never come near a limit: not tracked for peaks.
const TRACKED_UNITS: f64 = 5.0;
/// The report keeps this many key-seconds over a limit; the count says how many there were.
const LISTED_KEY_SECONDS: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Item,
    Partition,
}

#[derive(Debug, Clone, Serialize)]
pub struct HotKey {
    pub key: String,
    pub scope: Scope,
    pub peak_read_units_per_second: f64,
    pub peak_write_units_per_second: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeySecond {
    pub key: String,
    pub scope: Scope,
    pub second: u64,
    pub read_units: f64,
    pub write_units: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LargestItem {
    pub key: String,
    pub bytes: usize,
}

/// A fan's own items (its partition: reservations, payments, its ticket) are written by its
/// own requests and a tick's, never often; and some are named by ids the service draws from the
/// machine's clock, so that listing them would make one seed's report differ from run to run.
pub fn fans_own(pk: &str) -> bool {
    pk.starts_with("USER#")
}

/// The kind of an item, from its key without the names and numbers in it: the capitalised
/// words of its partition key and the first of its sort key (`LEDGER | LEDGER` for a date's
/// ledger shard, `QUEUE#ENTRY | ` for a queue entry, `USER | RESERVATION`).
pub fn kind(pk: &str, sk: &str) -> String {
    let word = |part: &&str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_uppercase());
    let pk: Vec<&str> = pk.split('#').filter(word).collect();
    let sk = sk.split('#').next().filter(word).unwrap_or("");
    format!("{} | {sk}", pk.join("#"))
}

/// The writes of one kind of item over the run (attempts refused for conflicts included).
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindWrites {
    pub writes: u64,
    pub write_units: f64,
    /// Their sizes, summed.
    pub bytes: u64,
}

/// An item written often: its busiest second, and its size.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenItem {
    pub key: String,
    /// Writes of it in its busiest second (attempts a transaction cancelled included).
    pub peak_writes_per_second: u64,
    /// Write units in that second.
    pub peak_write_units_per_second: f64,
    /// The largest it was written at, and the most one write of it cost (twice its KB in a
    /// transaction).
    pub bytes: usize,
    pub write_units_per_write: f64,
}

/// An item's writes in the second, and in its busiest.
#[derive(Debug, Clone, Copy, Default)]
struct Writes {
    count: u64,
    units: f64,
    bytes: usize,
    units_per_write: f64,
}

/// The busiest key of one second, against its limits.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SecondLoad {
    pub hottest_key: String,
    /// The largest share of a limit any key used: 1.0 is at the ceiling.
    pub utilisation: f64,
    pub read_units: f64,
    pub write_units: f64,
}

#[derive(Default)]
pub struct Capacity {
    partitions: HashMap<String, (f64, f64)>,
    items: HashMap<(String, String), (f64, f64, Writes)>,
    peaks: HashMap<(Scope, String), (f64, f64)>,
    /// Per item written at least `TRACKED_UNITS` in a second: its busiest second of writes.
    written: HashMap<String, Writes>,
    /// Write units over the run, by the kind of item (see [`kind`]).
    pub written_by_kind: BTreeMap<String, KindWrites>,
    pub over_limit: Vec<KeySecond>,
    pub over_limit_count: u64,
    pub over_half_limit: Vec<KeySecond>,
    pub over_half_limit_count: u64,
    pub read_units: f64,
    pub write_units: f64,
    pub requests: u64,
    pub by_operation: BTreeMap<&'static str, u64>,
    /// The largest item any request touched (DynamoDB refuses items over 400 KB).
    pub largest_item: LargestItem,
    /// One entry per closed second.
    pub seconds: Vec<SecondLoad>,
    /// The whole table's busiest second: what to pre-warm it to.
    pub peak_table_read_units: f64,
    pub peak_table_write_units: f64,
}

impl Capacity {
    pub fn charge(&mut self, requests: Vec<DynamoRequest>) {
        for request in requests {
            self.requests += 1;
            *self
                .by_operation
                .entry(request.operation.name())
                .or_default() += 1;
            for item in request.items {
                self.read_units += item.read_units;
                self.write_units += item.write_units;
                if item.write_units > 0.0 {
                    let sk = item.sk.as_deref().unwrap_or("");
                    let kind = kind(&item.pk, sk);
                    let written = match self.written_by_kind.get_mut(&kind) {
                        Some(written) => written,
                        None => self.written_by_kind.entry(kind).or_default(),
                    };
                    written.writes += 1;
                    written.write_units += item.write_units;
                    written.bytes += item.bytes as u64;
                }
                let partition = self.partitions.entry(item.pk.clone()).or_default();
                partition.0 += item.read_units;
                partition.1 += item.write_units;
                if let Some(sk) = item.sk {
                    if item.bytes > self.largest_item.bytes {
                        self.largest_item = LargestItem {
                            key: format!("{} | {sk}", item.pk),
                            bytes: item.bytes,
                        };
                    }
                    let units = self.items.entry((item.pk, sk)).or_default();
                    units.0 += item.read_units;
                    units.1 += item.write_units;
                    if item.write_units > 0.0 {
                        let writes = &mut units.2;
                        writes.count += 1;
                        writes.units += item.write_units;
                        writes.bytes = writes.bytes.max(item.bytes);
                        writes.units_per_write = writes.units_per_write.max(item.write_units);
                    }
                }
            }
        }
    }

    /// Ends simulated second `second`: judges every key's units in it against the limits.
    pub fn close_second(&mut self, second: u64) {
        let mut load = SecondLoad::default();
        let partitions = std::mem::take(&mut self.partitions);
        let (table_read, table_write) = partitions
            .values()
            .fold((0.0, 0.0), |(r, w), (read, write)| (r + read, w + write));
        self.peak_table_read_units = self.peak_table_read_units.max(table_read);
        self.peak_table_write_units = self.peak_table_write_units.max(table_write);
        let items = std::mem::take(&mut self.items);
        let mut item_units = Vec::with_capacity(items.len());
        for ((pk, sk), (read, write, writes)) in items {
            if read < TRACKED_UNITS && write < TRACKED_UNITS {
                continue;
            }
            let key = format!("{pk} | {sk}");
            if writes.count > 0 && !fans_own(&pk) {
                let busiest = self.written.entry(key.clone()).or_default();
                if writes.count > busiest.count {
                    busiest.count = writes.count;
                    busiest.units = writes.units;
                }
                busiest.bytes = busiest.bytes.max(writes.bytes);
                busiest.units_per_write = busiest.units_per_write.max(writes.units_per_write);
            }
            item_units.push((Scope::Item, key, (read, write)));
        }
        let keyed = partitions
            .into_iter()
            .map(|(pk, units)| (Scope::Partition, pk, units))
            .chain(item_units);
        for (scope, key, (read, write)) in keyed {
            if read < TRACKED_UNITS && write < TRACKED_UNITS {
                continue;
            }
            let utilisation = (read / READ_LIMIT).max(write / WRITE_LIMIT);
            if utilisation > load.utilisation {
                load = SecondLoad {
                    hottest_key: key.clone(),
                    utilisation,
                    read_units: read,
                    write_units: write,
                };
            }
            let over = |share: f64| read > READ_LIMIT * share || write > WRITE_LIMIT * share;
            let entry = || KeySecond {
                key: key.clone(),
                scope,
                second,
                read_units: read,
                write_units: write,
            };
            if over(1.0) {
                self.over_limit_count += 1;
                if self.over_limit.len() < LISTED_KEY_SECONDS {
                    self.over_limit.push(entry());
                }
            }
            if over(0.5) {
                self.over_half_limit_count += 1;
                if self.over_half_limit.len() < LISTED_KEY_SECONDS {
                    self.over_half_limit.push(entry());
                }
            }
            let peak = self.peaks.entry((scope, key)).or_default();
            peak.0 = peak.0.max(read);
            peak.1 = peak.1.max(write);
        }
        self.seconds.push(load);
    }

    /// The `count` keys that came closest to a limit, by their peak second.
    pub fn hottest(&self, count: usize) -> Vec<HotKey> {
        let mut keys: Vec<HotKey> = self
            .peaks
            .iter()
            .map(|((scope, key), (read, write))| HotKey {
                key: stable_key(key),
                scope: *scope,
                peak_read_units_per_second: *read,
                peak_write_units_per_second: *write,
            })
            .collect();
        let share = |k: &HotKey| {
            (k.peak_read_units_per_second / READ_LIMIT)
                .max(k.peak_write_units_per_second / WRITE_LIMIT)
        };
        // Masked keys may tie: their figures order them, so the same seed lists the same.
        keys.sort_by(|a, b| {
            share(b)
                .total_cmp(&share(a))
                .then(a.key.cmp(&b.key))
                .then(a.scope.cmp(&b.scope))
                .then(
                    a.peak_read_units_per_second
                        .total_cmp(&b.peak_read_units_per_second),
                )
                .then(
                    a.peak_write_units_per_second
                        .total_cmp(&b.peak_write_units_per_second),
                )
        });
        keys.truncate(count);
        keys
    }

    /// The `count` items written most in a second, by their busiest second.
    pub fn most_written(&self, count: usize) -> Vec<WrittenItem> {
        let mut items: Vec<WrittenItem> = self
            .written
            .iter()
            .map(|(key, w)| WrittenItem {
                key: stable_key(key),
                peak_writes_per_second: w.count,
                peak_write_units_per_second: w.units,
                bytes: w.bytes,
                write_units_per_write: w.units_per_write,
            })
            .collect();
        items.sort_by(|a, b| {
            b.peak_writes_per_second
                .cmp(&a.peak_writes_per_second)
                .then(a.key.cmp(&b.key))
                .then(a.bytes.cmp(&b.bytes))
                .then(
                    a.peak_write_units_per_second
                        .total_cmp(&b.peak_write_units_per_second),
                )
        });
        items.truncate(count);
        items
    }

    pub fn cost_usd(&self) -> f64 {
        (self.read_units * READ_PRICE + self.write_units * WRITE_PRICE) / 1e6
    }
}

/// A key as a report shows it: a reservation's id is drawn from the clock, so it is masked, and
/// the same seed reports the same keys.
fn stable_key(key: &str) -> String {
    const RANDOM_ID: &str = "RESERVATION#";
    match key.find(RANDOM_ID) {
        Some(at) => format!("{}…", &key[..at + RANDOM_ID.len()]),
        None => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticketing::store::meter::{ItemUnits, Operation};

    fn write(pk: &str, sk: &str, units: f64) -> DynamoRequest {
        DynamoRequest {
            operation: Operation::UpdateItem,
            consistent: false,
            items: vec![ItemUnits {
                pk: pk.into(),
                sk: Some(sk.into()),
                read_units: 0.0,
                write_units: units,
                bytes: 100,
            }],
        }
    }

    #[test]
    fn items_are_of_the_kind_their_keys_name() {
        assert_eq!(kind("LEDGER#c-1#2027-06-12#3", "LEDGER"), "LEDGER | LEDGER");
        assert_eq!(
            kind("QUEUE#c-1#ENTRY#07", "0000000001#000002"),
            "QUEUE#ENTRY | "
        );
        assert_eq!(kind("USER#fan-1", "RESERVATION#0192"), "USER | RESERVATION");
        assert_eq!(kind("QUEUE#c-1", "PAGE#00000000001"), "QUEUE | PAGE");
    }

    #[test]
    fn an_item_written_most_in_a_second_is_listed_with_its_size() {
        let mut capacity = Capacity::default();
        for _ in 0..3 {
            capacity.charge(vec![write("LEDGER#c#d#1", "LEDGER", 12.0)]);
        }
        capacity.charge(vec![write("SEATS#c#d#1", "SEATS", 4.0)]);
        capacity.charge(vec![write("USER#fan-1", "RESERVATION#1", 6.0)]);
        capacity.close_second(1);
        let written = capacity.most_written(5);
        assert_eq!(
            written.len(),
            1,
            "under 5 units a second, or a fan's own: not listed"
        );
        assert_eq!(written[0].key, "LEDGER#c#d#1 | LEDGER");
        assert_eq!(written[0].peak_writes_per_second, 3);
        assert_eq!(written[0].peak_write_units_per_second, 36.0);
        assert_eq!(
            (written[0].bytes, written[0].write_units_per_write),
            (100, 12.0)
        );
        let ledger = &capacity.written_by_kind["LEDGER | LEDGER"];
        assert_eq!(
            (ledger.writes, ledger.write_units, ledger.bytes),
            (3, 36.0, 300)
        );
        assert_eq!(capacity.written_by_kind["SEATS | SEATS"].write_units, 4.0);
    }

    #[test]
    fn a_key_over_its_limit_in_a_second_is_listed() {
        let mut capacity = Capacity::default();
        for _ in 0..600 {
            capacity.charge(vec![write("QUEUE#c", "STATE", 1.0)]);
        }
        capacity.charge(vec![write("QUEUE#c", "ENTRY", 500.0)]);
        capacity.close_second(7);
        // The partition took 1,100 units; each item stayed under 1,000.
        assert_eq!(capacity.over_limit.len(), 1);
        assert_eq!(capacity.over_limit[0].scope, Scope::Partition);
        assert_eq!(capacity.over_half_limit.len(), 2);
        let hottest = capacity.hottest(1);
        assert_eq!(hottest[0].key, "QUEUE#c");
        assert_eq!(hottest[0].peak_write_units_per_second, 1100.0);
        assert_eq!(capacity.requests, 601);
        assert!((capacity.cost_usd() - 1100.0 * 0.625 / 1e6).abs() < 1e-12);
    }
}
