/// The tunable numbers of the rules; the defaults are those `openapi.yaml` and docs/operations.md give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How long a seat hold lasts.
    pub hold_seconds: i64,
    /// The longest an admitted queue token stays active, counted from its admission.
    pub active_seconds: i64,
    /// An active token that no request carries for this long ends (see `booking::slots`).
    pub active_idle_seconds: i64,
    /// How often the admission tick runs.
    pub admit_tick_seconds: u64,
    /// The most users one tick admits, per concert (operators may lower it live).
    pub admit_per_tick: u32,
    /// The most tokens active at once, per concert (operators may lower it live).
    pub max_active: u32,
    /// A waiting token not polled for this long is dropped when the tick reaches it.
    pub waiting_idle_seconds: i64,
    /// The most active tokens per seat that is neither sold nor held.
    pub active_per_free_seat: u32,
    /// The most holds one queue session may place per concert (operators may change it live).
    pub max_holds_per_session: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            hold_seconds: 300,
            active_seconds: 600,
            active_idle_seconds: 120,
            admit_tick_seconds: 10,
            admit_per_tick: 50,
            max_active: 500,
            waiting_idle_seconds: 300,
            active_per_free_seat: 3,
            max_holds_per_session: crate::domain::MaxHoldsPerSession::DEFAULT,
        }
    }
}
