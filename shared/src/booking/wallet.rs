//! Charging a balance, reading it, and its history.

use std::sync::Mutex;

use tracing::instrument;

use super::{Balance, BalanceHistory, BalanceTransaction, Ticketing};
use crate::domain::{BookingError, ChargeAmount, IdempotencyKey, Timestamp, UserId};
use crate::store::{BalanceChange, BalanceEntryRecord, EntryKind};

/// A page size of a listing: 1 to the listing's maximum. The balance history and the
/// reservations: 1 to [`PageLimit::MAX`], [`PageLimit::DEFAULT`] when not given; a seat listing
/// has its own maximum (`SEAT_PAGE_LIMIT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(pub(super) usize);

impl PageLimit {
    pub const DEFAULT: PageLimit = PageLimit(20);
    pub const MAX: usize = 100;

    /// A page size for the balance history or the reservations.
    pub fn parse(raw: &str) -> Result<Self, BookingError> {
        Self::parse_up_to(raw, Self::MAX)
    }

    /// A page size for a listing of at most `max` a page.
    pub fn parse_up_to(raw: &str, max: usize) -> Result<Self, BookingError> {
        raw.parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .map(Self)
            .ok_or(BookingError::InvalidLimit { max })
    }

    pub fn get(self) -> usize {
        self.0
    }
}

/// Where the next history page starts: the version of the last entry already seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryCursor(u64);

impl HistoryCursor {
    pub fn parse(raw: &str) -> Result<Self, BookingError> {
        let canonical = !raw.starts_with('0') && raw.bytes().all(|b| b.is_ascii_digit());
        raw.parse::<u64>()
            .ok()
            .filter(|v| canonical && *v > 0)
            .map(Self)
            .ok_or(BookingError::InvalidCursor)
    }
}

impl Ticketing {
    /// Adds to the caller's balance. Concurrent charges are all applied, each exactly once.
    #[instrument(skip(self, key), fields(user = %user, amount = i64::from(amount)))]
    pub async fn charge(
        &self,
        user: &UserId,
        amount: ChargeAmount,
        key: Option<&IdempotencyKey>,
    ) -> Result<Balance, BookingError> {
        let request = format!("charge:{}", i64::from(amount));
        let first_read = async { Ok(self.store.balance(user).await?) };
        self.idempotent(user, key, request, first_read, |claim, first| async move {
            let first = Mutex::new(Some(first));
            self.until_committed(|| async {
                let fresh = first.lock().ok().and_then(|mut f| f.take());
                let current = match fresh {
                    Some(current) => current,
                    None => self.store.balance(user).await?,
                };
                let balance = Balance {
                    balance: current.amount.credit(amount)?,
                };
                let change = BalanceChange {
                    user_id: user.clone(),
                    entry: BalanceEntryRecord {
                        version: current.version + 1,
                        kind: EntryKind::Charge,
                        amount: amount.won(),
                        balance_after: balance.balance,
                        at: self.now().epoch_seconds(),
                        payment_id: None,
                        top_up_id: None,
                    },
                    completion: claim.as_ref().map(|c| c.completion(&balance)).transpose()?,
                };
                Ok((self.store.apply_balance_change(&change).await?, balance))
            })
            .await
        })
        .await
    }

    #[instrument(skip(self), fields(user = %user))]
    pub async fn balance(&self, user: &UserId) -> Result<Balance, BookingError> {
        Ok(Balance {
            balance: self.store.balance(user).await?.amount,
        })
    }

    /// Charges and payments, newest first.
    #[instrument(skip(self), fields(user = %user))]
    pub async fn balance_history(
        &self,
        user: &UserId,
        limit: PageLimit,
        cursor: Option<HistoryCursor>,
    ) -> Result<BalanceHistory, BookingError> {
        let mut entries = self
            .store
            .balance_entries(user, cursor.map(|c| c.0), limit.0 + 1)
            .await?;
        let more = entries.len() > limit.0;
        entries.truncate(limit.0);
        let next_cursor = more
            .then(|| entries.last().map(|e| e.version.to_string()))
            .flatten();
        Ok(BalanceHistory {
            items: entries
                .into_iter()
                .map(|e| BalanceTransaction {
                    kind: e.kind,
                    amount: e.amount,
                    balance_after: e.balance_after,
                    at: Timestamp::from_epoch_seconds(e.at),
                    payment_id: e.payment_id,
                    top_up_id: e.top_up_id,
                })
                .collect(),
            next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_1_to_100() {
        assert_eq!(PageLimit::parse("1").unwrap(), PageLimit(1));
        assert_eq!(PageLimit::parse("100").unwrap(), PageLimit(100));
        for bad in ["0", "101", "-1", "1.5", "", "ten"] {
            assert!(PageLimit::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            PageLimit::parse_up_to("1000", 1000).unwrap(),
            PageLimit(1000)
        );
        let over = PageLimit::parse_up_to("1001", 1000).unwrap_err();
        assert_eq!(over.to_string(), "limit must be an integer from 1 to 1000");
    }

    #[test]
    fn cursors_are_positive_canonical_integers() {
        assert_eq!(HistoryCursor::parse("42").unwrap(), HistoryCursor(42));
        for bad in ["0", "042", "-3", "+3", "x", ""] {
            assert!(HistoryCursor::parse(bad).is_err(), "{bad}");
        }
    }
}
