//! After the run, with faults off: every keyed request whose outcome a fan never learned is sent
//! again with its key until it answers, as the fan would have done with more time. Then every
//! key the fan used has a known outcome, and the audit can demand each applied exactly once.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::client::{jitter, pause_until, Api, Request};
use crate::fan::{answer, endpoint, is_in_use, payment_request, FanRecord};

/// Settles every fan at once; returns what broke the contract on the way.
pub async fn settle(api: &Api, fans: &mut [FanRecord], deadline: Instant) -> Vec<String> {
    futures::future::join_all(fans.iter_mut().map(|fan| settle_fan(api, fan, deadline)))
        .await
        .into_iter()
        .flatten()
        .collect()
}

async fn settle_fan(api: &Api, fan: &mut FanRecord, deadline: Instant) -> Vec<String> {
    let mut wrong = Vec::new();
    let user = fan.user.clone();
    for charge in fan.charges.iter_mut().filter(|c| !c.acknowledged) {
        let request = Request::post(
            endpoint::CHARGE,
            "/balance/charges",
            Some(json!({"amount": charge.amount})),
        )
        .header("Idempotency-Key", &charge.key);
        loop {
            let Ok(sent) = api.send(&user, &request, deadline).await else {
                wrong.push(format!("{user}: charge {} never settled", charge.key));
                break;
            };
            charge.answers.push(format!("settle: {}", answer(&sent)));
            charge
                .key_use
                .note(sent.after_transport_error, is_in_use(&sent));
            match (sent.reply.status, sent.reply.code()) {
                (200, _) => {
                    charge.acknowledged = true;
                    break;
                }
                (409, "IDEMPOTENCY_KEY_IN_USE") => {
                    pause_until(Duration::from_secs(1) + jitter(500), deadline).await
                }
                _ => {
                    wrong.push(format!(
                        "{user}: charge {} replayed without faults answered {} {}",
                        charge.key, sent.reply.status, sent.reply.body
                    ));
                    break;
                }
            }
        }
    }

    let token = fan.token.clone().unwrap_or_default();
    let Some(payment) = fan.payment.as_mut().filter(|p| p.receipts.is_empty()) else {
        return wrong;
    };
    let request = payment_request(&token, &payment.key, &payment.reservation_id);
    loop {
        let Ok(sent) = api.send(&user, &request, deadline).await else {
            wrong.push(format!("{user}: payment {} never settled", payment.key));
            break;
        };
        payment.answers.push(format!("settle: {}", answer(&sent)));
        payment
            .key_use
            .note(sent.after_transport_error, is_in_use(&sent));
        match (sent.reply.status, sent.reply.code()) {
            (201, _) => {
                payment.receipts.push(sent.reply.body);
                break;
            }
            // The key is still locked by a claim that never completed. If the reservation is
            // still HELD, no payment happened; if it is CONFIRMED, the key must replay it once
            // the lock lapses.
            (409, "IDEMPOTENCY_KEY_IN_USE") => {
                let path = format!("/reservations/{}", payment.reservation_id);
                let Ok(read) = api
                    .send(&user, &Request::get(endpoint::RESERVATION, path), deadline)
                    .await
                else {
                    wrong.push(format!("{user}: reservation of {} unreadable", payment.key));
                    break;
                };
                match read.reply.body["status"].as_str() {
                    Some("HELD") => {
                        payment.unpaid = true;
                        break;
                    }
                    Some("CONFIRMED") => {
                        pause_until(Duration::from_secs(2) + jitter(500), deadline).await
                    }
                    _ => {
                        wrong.push(format!(
                            "{user}: reservation {} reads {} {}",
                            payment.reservation_id, read.reply.status, read.reply.body
                        ));
                        break;
                    }
                }
            }
            _ => {
                wrong.push(format!(
                    "{user}: payment {} (reservation {}) replayed without faults answered {} {}",
                    payment.key, payment.reservation_id, sent.reply.status, sent.reply.body
                ));
                break;
            }
        }
    }
    wrong
}
