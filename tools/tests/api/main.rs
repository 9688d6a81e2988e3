//! Black-box tests: the real local server over HTTP, on the in-memory store (`memory::…`) and
//! on DynamoDB (`dynamodb::…`, against `TEST_DYNAMODB_ENDPOINT`).

mod server;

mod caching;
mod contention;
mod edge;
mod errors;
mod hygiene;
mod input;
mod journey;
mod maxima;
mod opening;
mod operators;
mod ownership;
mod pages;
mod throttling;
mod topups;

macro_rules! api_tests {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    crate::$module::$test(crate::server::Backend::Memory).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    crate::$module::$test(crate::server::Backend::DynamoDb).await;
                }
            )*
        }
    };
}

api_tests!(
    throttling::a_fan_over_its_limit_is_told_when_to_retry,
    hygiene::ambiguous_input_and_foreign_hosts_are_refused,
    caching::listings_say_how_long_they_keep_and_unchanged_ones_are_304,
    throttling::every_answer_names_its_request,
    edge::fans_reach_a_server_behind_an_edge_only_through_it,
    topups::a_paid_top_up_credits_once,
    topups::duplicate_deliveries_at_once_credit_once,
    topups::top_ups_are_capped_a_day,
    journey::fans_go_from_queue_to_receipt,
    errors::every_queue_and_catalog_error_is_reachable,
    errors::every_reservation_and_payment_error_is_reachable,
    errors::every_wallet_and_idempotency_error_is_reachable,
    input::bad_input_is_refused_and_changes_nothing,
    ownership::other_fans_things_stay_private,
    opening::the_queue_opens_draws_and_sells_out_over_http,
    operators::operators_watch_and_turn_the_waiting_room,
    operators::operators_add_a_concert_without_a_deploy,
    contention::dozens_of_fans_racing_for_one_seat_get_one_hold,
    contention::a_session_that_spins_seats_runs_out_of_holds,
    maxima::a_concert_at_the_maxima_is_added_and_sells_over_http,
);
