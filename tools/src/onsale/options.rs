//! The simulator's flags. Every bad value gets one line that names the flag; the service's own
//! settings (ticks, admission) are checked by the same rules the functions apply at start.

use std::path::PathBuf;

use ticketing::config::Config;
use ticketing::Settings;

pub const USAGE: &str = "\
usage: onsale [--fans N] [--join-rate R] [--concerts C] [--dates D] [--seats-per-date N]
              [--section-size S] [--admit-per-tick N]
              [--max-active N] [--tick-seconds S] [--poll-seconds S] [--abandon-rate P]
              [--queue-opens-before S] [--duration S] [--faults P] [--duplicate-ticks P]
              [--tick-crash P] [--clock-skew S] [--transaction-ms MIN:MAX]
              [--party-sizes SIZES] [--best-available P] [--bots N] [--spinning-bots P]
              [--lapse-payers P] [--leaving-releases P] [--max-holds-per-session N] [--seed N] [--json FILE] [--svg FILE] [--quiet]

Plays an on-sale in virtual time over the service's real operations and the in-memory store,
charging every store call as the DynamoDB requests it would send. Every store call is a step
of a scheduler driven by the seed: fans' round trips and ticks interleave call by call, and
the faults below strike there. One seed replays one run exactly.

  --fans N            fans who arrive (default 100000)
  --join-rate R       fans arriving per second (default 1000)
  --concerts C        concerts on sale; every fan joins the first (default 1)
  --dates D           dates of each concert (default 3)
  --seats-per-date N  seats a date, 1 to 100000 (default 50); with --section-size, the hall:
                      the defaults (50 and 50) are a 50-seat hall of three price tiers
                      (seatPrices); anything else is named sections S1, S2, ... of
                      --section-size seats (the last may be shorter), dearer at the front,
                      at most 200 of them. A fan on a date of more than 1000 seats lists its
                      sections, picks one with room for its party and lists that one
  --section-size S    seats a section, 1 to --seats-per-date (default 50)
  --admit-per-tick N  ADMIT_PER_TICK (default: the service's limit)
  --max-active N      MAX_ACTIVE (default: the service's limit)
  --tick-seconds S    ADMIT_TICK_SECONDS (default 10)
  --max-holds-per-session N
                      MAX_HOLDS_PER_SESSION (default 10): holds one admission may place
  --poll-seconds S    how often fans poll when the service does not say (default 5)
  --abandon-rate P    chance a fan gives up at each poll or purchase step (default 0.01)
  --leaving-releases P
                      chance that a fan who gives up while holding seats leaves a page that
                      releases them as it goes, as the fan page does when a fan leaves
                      checkout (default 1; 0: every such hold lapses)
  --queue-opens-before S
                      the queue opens S seconds before the sale: fans who arrive before the
                      sale are drawn by lottery at its opening (default 0: no pre-queue)
  --duration S        simulated seconds at most (default 3600)
  --faults P          each store call fails with probability P (default 0): refused before it
                      applies, applied with its answer lost, or late (it lands after the other
                      calls of its second), a third each
  --duplicate-ticks P a tick is delivered twice, the two runs interleaving (default 0)
  --tick-crash P      a tick dies after a random store call (default 0)
  --clock-skew S      each container's clock, the admitter's included, is off by up to S
                      seconds either way (default 0)
  --transaction-ms MIN:MAX
                      a transaction holds the items it writes for MIN to MAX ms, starting at
                      a random moment of its second; one that writes an item a transaction
                      in flight is writing is cancelled (TransactionConflict) and sent again
                      as the DynamoDB store does (default 5:20; 0 for no conflicts)
  --party-sizes SIZES how many seats a fan buys in one order, as size:weight pairs
                      (default 1:1; e.g. 1:40,2:40,3:10,4:10), at most the concert's limit
                      of 4 seats a fan
  --best-available P  chance a fan orders by quantity (best available) rather than picking
                      seats from the chart (default 0)
  --bots N            bots besides the fans (default 0): each re-joins every second instead
                      of polling, lists seats with made-up tokens every second while it
                      waits, and once admitted holds as many seats as the limit allows, lets
                      the holds lapse and holds again
  --spinning-bots P   share of the bots that spin seats instead (default 0): hold all the
                      limit allows, keep the hold 10 to 30 s, release it, hold again, until
                      told 429 TOO_MANY_HOLDS
  --lapse-payers P    share of the fans who order all the limit allows and pay in their
                      hold's last seconds while holding a seat more (default 0): the race
                      the ticket limit must survive
  --seed N            the run is the same for the same seed (default 1)
  --json FILE         write the report as JSON
  --svg FILE          draw the on-sale over time
  --quiet             no progress bar";

#[derive(Debug, Clone)]
pub struct Options {
    pub fans: u64,
    pub join_rate: f64,
    pub concerts: u32,
    pub dates: u32,
    /// Seats a date, and seats a section (see [`Options::hall`]).
    pub seats_per_date: u32,
    pub section_size: u32,
    pub settings: Settings,
    pub poll_seconds: u64,
    pub abandon_rate: f64,
    /// Seconds between the queue's opening (the simulation's start) and the sale's.
    pub queue_opens_before: u64,
    pub duration: u64,
    pub faults: f64,
    pub duplicate_ticks: f64,
    pub tick_crash: f64,
    pub clock_skew: u64,
    /// How long a transaction holds its items, in ms, at least and at most ((0, 0): never
    /// conflicts).
    pub transaction_ms: (u32, u32),
    /// Seats a fan orders at once, with their weights.
    pub party_sizes: Vec<(u32, u32)>,
    pub best_available: f64,
    pub bots: u64,
    /// Shares of the bots that spin seats, and of the fans who race their hold's lapse.
    pub spinning_bots: f64,
    pub lapse_payers: f64,
    /// Chance that a fan who gives up while holding leaves a page that releases the hold.
    pub leaving_releases: f64,
    pub seed: u64,
    pub json: Option<PathBuf>,
    pub svg: Option<PathBuf>,
    pub progress: bool,
}

/// What `parse` makes of the command line.
#[derive(Debug)]
pub enum Command {
    Run(Box<Options>),
    Help,
}

/// The largest value the service accepts for a setting, found by asking its own checks.
fn service_limit(name: &str) -> u64 {
    let mut limit = 1;
    let mut step = 1 << 20;
    while step > 0 {
        let candidate = (limit + step).to_string();
        if Config::from_lookup(|n| (n == name).then(|| candidate.clone())).is_ok() {
            limit += step;
        }
        step /= 2;
    }
    limit
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut fans = 100_000u64;
    let mut join_rate = 1_000.0;
    let mut concerts = 1u32;
    let mut dates = 3u32;
    let mut seats_per_date = DEFAULT_SEATS_PER_DATE;
    let mut section_size = None;
    let mut admit_per_tick = None;
    let mut max_active = None;
    let mut tick_seconds = None;
    let mut max_holds = None;
    let mut poll_seconds = 5u64;
    let mut abandon_rate = 0.01;
    let mut queue_opens_before = 0u64;
    let mut duration = 3_600u64;
    let mut faults = 0.0;
    let mut duplicate_ticks = 0.0;
    let mut tick_crash = 0.0;
    let mut clock_skew = 0u64;
    let mut transaction_ms = DEFAULT_TRANSACTION_MS;
    let mut party_sizes = vec![(1, 1)];
    let mut best_available = 0.0;
    let mut bots = 0u64;
    let mut spinning_bots = 0.0;
    let mut lapse_payers = 0.0;
    let mut leaving_releases = 1.0;
    let mut seed = 1u64;
    let mut json = None;
    let mut svg = None;
    let mut progress = true;

    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value (see --help)"))
        };
        match flag.as_str() {
            "--fans" => fans = whole(&flag, &value()?, 1, 10_000_000)?,
            "--join-rate" => join_rate = decimal(&flag, &value()?, 0.001, 1_000_000.0)?,
            "--concerts" => concerts = whole(&flag, &value()?, 1, 100_000)? as u32,
            "--dates" => dates = whole(&flag, &value()?, 1, 1_000)? as u32,
            "--seats-per-date" => {
                seats_per_date = whole(&flag, &value()?, 1, MAX_SEATS_PER_DATE)? as u32
            }
            "--section-size" => section_size = Some(value()?),
            "--admit-per-tick" => admit_per_tick = Some(value()?),
            "--max-active" => max_active = Some(value()?),
            "--tick-seconds" => tick_seconds = Some(value()?),
            "--max-holds-per-session" => max_holds = Some(value()?),
            "--poll-seconds" => poll_seconds = whole(&flag, &value()?, 1, 3_600)?,
            "--abandon-rate" => abandon_rate = decimal(&flag, &value()?, 0.0, 1.0)?,
            "--queue-opens-before" => queue_opens_before = whole(&flag, &value()?, 0, 86_400)?,
            "--duration" => duration = whole(&flag, &value()?, 1, 86_400)?,
            "--faults" => faults = decimal(&flag, &value()?, 0.0, 0.5)?,
            "--duplicate-ticks" => duplicate_ticks = decimal(&flag, &value()?, 0.0, 1.0)?,
            "--tick-crash" => tick_crash = decimal(&flag, &value()?, 0.0, 1.0)?,
            "--clock-skew" => clock_skew = whole(&flag, &value()?, 0, 30)?,
            "--transaction-ms" => transaction_ms = span(&flag, &value()?)?,
            "--party-sizes" => party_sizes = parties(&flag, &value()?)?,
            "--best-available" => best_available = decimal(&flag, &value()?, 0.0, 1.0)?,
            "--bots" => bots = whole(&flag, &value()?, 0, 1_000_000)?,
            "--spinning-bots" => spinning_bots = decimal(&flag, &value()?, 0.0, 1.0)?,
            "--lapse-payers" => lapse_payers = decimal(&flag, &value()?, 0.0, 1.0)?,
            "--leaving-releases" => leaving_releases = decimal(&flag, &value()?, 0.0, 1.0)?,
            "--seed" => seed = whole(&flag, &value()?, 0, u64::MAX)?,
            "--json" => json = Some(PathBuf::from(value()?)),
            "--svg" => svg = Some(PathBuf::from(value()?)),
            "--quiet" => progress = false,
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(format!("unknown flag {other:?} (see --help)")),
        }
    }

    // Checked once every flag is read: its bound is --seats-per-date, given before or after.
    let section_size = match section_size {
        Some(raw) => whole("--section-size", &raw, 1, u64::from(seats_per_date))? as u32,
        None => DEFAULT_SECTION_SIZE.min(seats_per_date),
    };
    let sections = seats_per_date.div_ceil(section_size);
    if sections > MAX_SECTIONS {
        return Err(format!(
            "--section-size {section_size} makes {sections} sections of {seats_per_date} seats; \
             a concert has at most {MAX_SECTIONS} (give --section-size {} or more)",
            seats_per_date.div_ceil(MAX_SECTIONS)
        ));
    }

    let admit_per_tick =
        admit_per_tick.unwrap_or_else(|| service_limit("ADMIT_PER_TICK").to_string());
    let max_active = max_active.unwrap_or_else(|| service_limit("MAX_ACTIVE").to_string());
    let flags = [
        ("ADMIT_PER_TICK", "--admit-per-tick", Some(admit_per_tick)),
        ("MAX_ACTIVE", "--max-active", Some(max_active)),
        ("ADMIT_TICK_SECONDS", "--tick-seconds", tick_seconds),
        (
            "MAX_HOLDS_PER_SESSION",
            "--max-holds-per-session",
            max_holds,
        ),
    ];
    let config = Config::from_lookup(|name| {
        flags
            .iter()
            .find(|(env, _, _)| *env == name)
            .and_then(|(_, _, value)| value.clone())
    })
    .map_err(|error| {
        let message = error.to_string();
        flags
            .iter()
            .find(|(env, _, _)| message.starts_with(env))
            .map(|(env, flag, _)| message.replacen(env, flag, 1))
            .unwrap_or(message)
    })?;

    Ok(Command::Run(Box::new(Options {
        fans,
        join_rate,
        concerts,
        dates,
        seats_per_date,
        section_size,
        settings: config.settings,
        poll_seconds,
        abandon_rate,
        queue_opens_before,
        duration,
        faults,
        duplicate_ticks,
        tick_crash,
        clock_skew,
        transaction_ms,
        party_sizes,
        best_available,
        bots,
        spinning_bots,
        lapse_payers,
        leaving_releases,
        seed,
        json,
        svg,
        progress,
    })))
}

/// How long a transaction holds the items it writes, in ms, unless told: about a
/// TransactWriteItems' latency (two phases, each a few ms).
pub const DEFAULT_TRANSACTION_MS: (u32, u32) = (5, 20);
/// A transaction holds its items at most this long (ms): a second is the world's step.
const MAX_TRANSACTION_MS: u64 = 500;

/// `MIN:MAX` ms, or `0` for none.
fn span(flag: &str, raw: &str) -> Result<(u32, u32), String> {
    if raw == "0" {
        return Ok((0, 0));
    }
    let (min, max) = raw
        .split_once(':')
        .ok_or_else(|| format!("{flag}: {raw:?} is not MIN:MAX (ms) or 0"))?;
    let min = whole(flag, min, 1, MAX_TRANSACTION_MS)? as u32;
    let max = whole(flag, max, u64::from(min), MAX_TRANSACTION_MS)? as u32;
    Ok((min, max))
}

/// Seats a date, and seats a section, unless told: together, the 50-seat hall of three tiers.
pub const DEFAULT_SEATS_PER_DATE: u32 = 50;
pub const DEFAULT_SECTION_SIZE: u32 = 50;
/// A date has at most this many seats, and a concert this many sections (the service's own
/// bounds).
const MAX_SEATS_PER_DATE: u64 = 100_000;
const MAX_SECTIONS: u32 = ticketing::store::MAX_SECTIONS as u32;

/// How a date's seats are laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hall {
    /// The 50-seat hall of three price tiers (`seatPrices`): the defaults.
    Tiers,
    /// Named sections of `size` seats (the last may be shorter) over `seats` seats.
    Sections { seats: u32, size: u32 },
}

impl Options {
    pub fn hall(&self) -> Hall {
        if (self.seats_per_date, self.section_size)
            == (DEFAULT_SEATS_PER_DATE, DEFAULT_SECTION_SIZE)
        {
            Hall::Tiers
        } else {
            Hall::Sections {
                seats: self.seats_per_date,
                size: self.section_size,
            }
        }
    }
}

/// `1:40,2:40`: party sizes 1 to 4 (the simulated concert's limit) with positive weights.
fn parties(flag: &str, raw: &str) -> Result<Vec<(u32, u32)>, String> {
    let bad = || {
        format!("{flag} must be size:weight pairs such as 1:40,2:40 (sizes 1 to 4), got {raw:?}")
    };
    let mut sizes = Vec::new();
    for pair in raw.split(',') {
        let (size, weight) = pair.split_once(':').ok_or_else(bad)?;
        let size = whole(flag, size.trim(), 1, 4).map_err(|_| bad())? as u32;
        let weight = whole(flag, weight.trim(), 1, 1_000_000).map_err(|_| bad())? as u32;
        sizes.push((size, weight));
    }
    Ok(sizes)
}

fn whole(flag: &str, raw: &str, min: u64, max: u64) -> Result<u64, String> {
    raw.replace('_', "")
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("{flag} must be a whole number from {min} to {max}, got {raw:?}"))
}

fn decimal(flag: &str, raw: &str, min: f64, max: f64) -> Result<f64, String> {
    raw.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && (min..=max).contains(n))
        .ok_or_else(|| format!("{flag} must be a number from {min} to {max}, got {raw:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, String> {
        match parse(args.iter().map(|a| a.to_string()))? {
            Command::Run(options) => Ok(*options),
            Command::Help => Err("help".into()),
        }
    }

    #[test]
    fn defaults_put_admission_at_the_service_limits() {
        let options = run(&[]).unwrap();
        assert_eq!(options.fans, 100_000);
        assert_eq!(
            u64::from(options.settings.admit_per_tick),
            service_limit("ADMIT_PER_TICK")
        );
        assert_eq!(options.settings.max_active, 100_000);
    }

    #[test]
    fn the_defaults_are_the_hall_of_three_tiers_and_anything_else_is_sections() {
        assert_eq!(run(&[]).unwrap().hall(), Hall::Tiers);
        assert_eq!(
            run(&["--seats-per-date", "50", "--section-size", "50"])
                .unwrap()
                .hall(),
            Hall::Tiers
        );
        assert_eq!(
            run(&["--seats-per-date", "60000", "--section-size", "500"])
                .unwrap()
                .hall(),
            Hall::Sections {
                seats: 60_000,
                size: 500
            }
        );
        assert_eq!(
            run(&["--section-size", "10"]).unwrap().hall(),
            Hall::Sections {
                seats: 50,
                size: 10
            }
        );
        // Fewer seats than a section: one section of them all.
        assert_eq!(
            run(&["--seats-per-date", "30"]).unwrap().hall(),
            Hall::Sections {
                seats: 30,
                size: 30
            }
        );
        let error = run(&["--seats-per-date", "60000"]).unwrap_err();
        assert!(
            error.contains("1200 sections") && error.contains("300"),
            "{error}"
        );
    }

    #[test]
    fn transactions_hold_their_items_a_span_of_ms_or_never_conflict() {
        assert_eq!(run(&[]).unwrap().transaction_ms, DEFAULT_TRANSACTION_MS);
        let span = |raw: &str| run(&["--transaction-ms", raw]).map(|o| o.transaction_ms);
        assert_eq!(span("0"), Ok((0, 0)));
        assert_eq!(span("10:10"), Ok((10, 10)));
        assert_eq!(span("5:50"), Ok((5, 50)));
        for bad in ["10", "0:5", "20:10", "5:501", "a:b"] {
            let error = span(bad).unwrap_err();
            assert!(error.starts_with("--transaction-ms"), "{bad}: {error}");
        }
    }

    #[test]
    fn bad_flags_are_named_in_one_line() {
        for (args, named) in [
            (&["--fans", "0"][..], "--fans"),
            (&["--fans", "many"], "--fans"),
            (&["--join-rate", "-1"], "--join-rate"),
            (&["--abandon-rate", "2"], "--abandon-rate"),
            (&["--faults", "0.9"], "--faults"),
            (&["--tick-crash", "x"], "--tick-crash"),
            (&["--clock-skew", "31"], "--clock-skew"),
            (&["--max-active", "100001"], "--max-active"),
            (&["--tick-seconds", "0"], "--tick-seconds"),
            (&["--max-holds-per-session", "0"], "--max-holds-per-session"),
            (
                &["--max-holds-per-session", "101"],
                "--max-holds-per-session",
            ),
            (&["--seed"], "--seed"),
            (&["--party-sizes", "5:1"], "--party-sizes"),
            (&["--party-sizes", "1:40,2"], "--party-sizes"),
            (&["--best-available", "1.5"], "--best-available"),
            (&["--bots", "-1"], "--bots"),
            (&["--spinning-bots", "2"], "--spinning-bots"),
            (&["--lapse-payers", "-0.5"], "--lapse-payers"),
            (&["--leaving-releases", "1.5"], "--leaving-releases"),
            (&["--seats-per-date", "0"], "--seats-per-date"),
            (&["--seats-per-date", "100001"], "--seats-per-date"),
            (&["--section-size", "0"], "--section-size"),
            (&["--section-size", "51"], "--section-size"),
            (
                &["--section-size", "101", "--seats-per-date", "100"],
                "--section-size",
            ),
            // 1,200 sections of 50 seats: over the 200 a concert may have.
            (&["--seats-per-date", "60000"], "--section-size"),
            (
                &["--seats-per-date", "1000", "--section-size", "4"],
                "--section-size",
            ),
            (&["--nope"], "--nope"),
        ] {
            let error = run(args).unwrap_err();
            assert!(error.contains(named), "{args:?}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
        assert_eq!(run(&["--help"]).unwrap_err(), "help");
        assert_eq!(
            run(&["--party-sizes", "1:40,2:40,3:10,4:10"])
                .unwrap()
                .party_sizes,
            [(1, 40), (2, 40), (3, 10), (4, 10)]
        );
    }
}
