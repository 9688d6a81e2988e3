//! Stripe, the payment provider of `TOPUP_MODE=provider`: webhook signatures.

pub mod signature;
