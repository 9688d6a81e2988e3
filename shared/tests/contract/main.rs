//! The contract every store must honour: each scenario runs once on the in-memory store
//! (`memory::…`) and once on DynamoDB (`dynamodb::…`, against `TEST_DYNAMODB_ENDPOINT`).
//!
//! The DynamoDB half runs on DynamoDB Local 3.3.1 (scripts/dynamodb-local), AWS's emulator, not
//! on DynamoDB. Where it differs from the service, and what these scenarios rely on:
//! - Every read is strongly consistent, `ConsistentRead: false` included. The only stale reads
//!   here are the container cache's own (`booking/cache.rs`), which the scenarios move by the
//!   clock; a replica's lag is not exercised, and nothing may rely on its absence: the store
//!   reads eventually consistent only what a cache may hold stale anyway (the queue state).
//! - Transactions that touch one item are serialized; none is ever cancelled with
//!   `TransactionConflict` (600 racing transactions on one item, all applied). Races here are
//!   decided by conditions alone, as the service decides them too; the store's retry of
//!   conflict-only cancellations (`store/dynamo/request.rs`) is not reached.
//! - No throttling and no per-partition ceiling: hot keys are the simulator's to find, and
//!   throttles come from the fault proxy (the chaos test).
//! - Limits are the service's: 100 items a transaction, 400 KB an item, 100 keys a BatchGet.
//! - TTL deletes an expired item within seconds, by the real clock (DynamoDB takes up to days).
//!   The scenarios run on a clock of their own, in December 2026, so their tables keep expired
//!   items (`Expiry::Kept`): expiry is the code's business (every read and condition compares
//!   `expires_at` with the scenario's now), never the table's.

mod world;

mod admission;
mod buying;
mod buying_edges;
mod catalog;
mod conflicts;
mod faults;
mod lapse;
mod limits;
mod maxima;
mod opening;
mod operators;
mod payments;
mod queue;
mod races;
mod rate;
mod reservations;
mod slots;
mod topups;
mod venues;
mod wallet;

macro_rules! contract {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    crate::$module::$test(crate::world::World::memory().await).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    if let Some(world) = crate::world::World::dynamodb().await {
                        crate::$module::$test(world).await;
                    }
                }
            )*
        }
    };
}

contract!(
    topups::a_top_up_credits_once_however_often_it_is_delivered,
    topups::concurrent_duplicate_deliveries_credit_once,
    topups::forged_stale_and_unmatched_events_credit_nothing,
    topups::top_ups_are_capped_a_day_and_replayed_by_their_key,
    topups::a_canceled_or_uncreated_payment_fails_its_top_up,
    topups::a_payment_is_found_by_its_id_or_camel_cased_metadata,
    queue::joining_twice_returns_the_same_token,
    queue::positions_follow_join_order_with_an_estimated_wait,
    queue::the_tick_admits_in_order_and_at_most_per_tick,
    queue::never_more_than_max_active_tokens_are_active,
    queue::no_wait_is_promised_while_every_slot_is_taken,
    queue::idle_waiting_tokens_are_dropped_and_never_stall_admission,
    queue::gated_operations_refuse_each_bad_token_distinctly,
    queue::an_ended_token_rejoins_at_the_back,
    admission::one_tick_admits_hundreds_of_fans,
    admission::ticks_racing_joins_polls_and_each_other_admit_in_order_within_max_active,
    admission::admission_stops_at_zero_free_seats_and_resumes_when_holds_end,
    admission::a_fan_holding_seats_does_not_keep_the_crowd_from_the_free_ones,
    admission::the_front_of_a_stalled_queue_polls_after_each_tick,
    admission::a_cached_reader_is_never_ahead_of_the_truth_and_lags_at_most_a_tick,
    admission::a_pause_stops_admission_at_the_next_tick_and_polls_go_on,
    opening::joining_before_during_and_after_the_pre_queue,
    opening::the_draw_is_a_permutation_not_the_arrival_order,
    opening::the_sell_out_reaches_waiting_pre_queued_and_new_fans,
    operators::the_waiting_room_is_the_last_ticks_books_and_changes_apply_at_the_next_tick,
    operators::operators_turning_different_knobs_at_once_both_take_effect,
    operators::a_concert_added_live_is_on_sale_and_never_overwritten,
    catalog::concerts_on_sale_leave_out_finished_ones,
    catalog::dates_on_sale_are_upcoming_dates_with_unsold_seats,
    catalog::the_seat_chart_shows_every_seat_as_it_stands_now,
    catalog::loading_the_catalog_again_changes_nothing,
    catalog::the_listing_never_reads_a_concert_that_is_over_and_shows_a_sell_out,
    reservations::second_fan_cannot_hold_a_held_seat,
    reservations::a_token_not_admitted_never_reaches_the_seats,
    reservations::holds_name_what_is_missing_or_unavailable,
    reservations::an_expired_hold_frees_the_seat_for_everyone,
    reservations::reservations_are_private_to_their_fan,
    reservations::release_frees_the_seat_and_can_be_repeated,
    wallet::charges_add_up_within_the_limit,
    wallet::history_pages_newest_first,
    wallet::a_retried_charge_is_applied_once,
    wallet::a_crashed_claim_stops_blocking_after_its_lock,
    rate::a_fan_gets_its_burst_then_one_request_per_refill,
    rate::a_fan_refused_for_long_is_told_the_wait_in_whole_seconds,
    rate::concurrent_requests_of_one_fan_take_exactly_its_burst,
    payments::a_payment_changes_everything_at_once,
    payments::an_insufficient_balance_changes_nothing,
    payments::only_a_live_hold_can_be_paid,
    payments::payments_need_the_fans_active_token,
    payments::a_retried_payment_returns_the_first_receipt,
    races::hundred_fans_racing_for_one_seat_yield_one_hold,
    races::fifty_payments_racing_on_one_balance_never_overdraw,
    races::hundred_concurrent_charges_all_apply_once,
    races::one_idempotency_key_sent_twenty_times_applies_once,
    races::a_payment_racing_expiry_and_release_never_double_sells,
    races::a_crowd_joining_at_once_gets_distinct_tokens_and_exact_positions,
    queue::a_re_join_storm_leaves_later_fans_positions_unchanged,
    queue::a_join_that_is_refused_writes_nothing,
    queue::the_counter_a_join_lands_on_is_not_a_function_of_the_fan_and_second,
    queue::a_fan_not_yet_counted_far_back_polls_as_late_as_its_wait_allows,
    faults::a_draw_tick_that_dies_leaves_one_draw_and_counts_what_it_admitted,
    faults::overlapping_ticks_admit_once,
    faults::a_tick_that_takes_over_counts_the_slots_the_stuck_tick_filled,
    faults::a_tick_whose_state_is_overtaken_never_takes_over_a_finished_tick,
    faults::an_opening_off_the_ten_second_boundary_walks_the_pre_queue_once,
    faults::a_registration_that_fails_is_made_by_the_retry,
    faults::registrations_landing_out_of_order_count_the_earlier_second,
    faults::a_stray_entry_never_stalls_the_queue,
    faults::a_join_behind_the_ticks_clock_draws_in_a_second_not_yet_counted,
    faults::a_drop_racing_a_poll_keeps_the_tick,
    faults::a_failed_retire_leaves_the_tick_whole,
    faults::a_sell_out_whose_mark_fails_is_marked_by_the_next_tick,
    faults::a_fan_not_yet_counted_is_never_told_a_place_ahead_of_the_truth,
    buying::a_fan_never_holds_or_buys_past_the_ticket_limit,
    buying::one_fan_racing_holds_across_the_limit_never_passes_it,
    buying::an_order_of_several_seats_is_held_and_paid_all_or_none,
    buying::two_fans_racing_overlapping_orders_get_one_of_them,
    buying::best_available_takes_adjacent_low_seats_and_a_burst_gets_every_seat,
    buying::a_hold_with_an_idempotency_key_is_replayed,
    buying::a_token_that_bought_several_seats_frees_one_place_under_max_active,
    venues::a_stadium_date_is_listed_by_section_and_its_seats_exist_to_its_capacity,
    venues::fans_racing_for_the_seats_of_one_block_take_each_seat_once,
    slots::an_idle_token_ends_and_its_slot_is_refilled_at_the_next_tick,
    slots::a_token_with_a_live_hold_keeps_its_slot_until_the_hold_ends,
    slots::a_hold_refused_gives_back_the_slot_time_it_took,
    slots::a_hold_in_a_tokens_last_seconds_can_still_be_paid,
    slots::a_hold_keeps_a_token_past_its_cap_no_longer_than_the_hold,
    slots::a_fan_unseen_for_a_minute_no_longer_keeps_the_crowd_from_a_free_seat,
    slots::a_fan_who_holds_can_pay_after_the_idle_time,
    slots::renewal_writes_at_most_once_per_interval_under_concurrent_requests,
    slots::requests_keep_a_token_past_the_idle_time_but_not_past_its_cap,
    venues::an_order_across_a_block_boundary_is_held_paid_and_counted_all_or_none,
    venues::a_section_listed_while_it_sells_shows_each_sale_once_it_lands,
    venues::best_available_on_a_stadium_spreads_over_sections_with_free_seats,
    venues::lapsed_holds_free_their_seats_and_leave_the_ledger,
    limits::an_item_over_400_kb_is_refused_and_nothing_is_written,
    limits::a_transaction_of_more_than_100_items_is_refused,
    maxima::a_concert_at_the_maxima_is_counted_admitted_listed_and_sells,
    maxima::a_section_of_a_whole_stadium_is_listed_page_by_page_and_its_last_seat_sells,
    maxima::a_hall_is_listed_whole_or_page_by_page_across_its_price_tiers,
    lapse::a_payment_in_the_last_second_never_lets_a_fan_own_past_the_limit,
    lapse::payments_racing_holds_at_the_lapse_second_never_pass_the_limit,
    buying_edges::a_keyed_hold_of_seats_already_held_completes_its_key,
    buying_edges::a_keyed_hold_the_gate_refuses_leaves_no_claim,
    buying_edges::a_session_places_at_most_its_holds_and_other_fans_hold_on,
    buying_edges::best_available_finds_seats_in_any_section_with_room,
);
