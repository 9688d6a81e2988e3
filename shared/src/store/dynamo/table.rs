//! Creating the table, for local endpoints and tests. Deployed tables come from `infra/`.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};

use super::request::{build_error, request_error};
use super::{DynamoStore, TTL_ATTRIBUTE};
use crate::store::StoreError;

/// What the table's TTL does with items past their `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Deleted once expired (by DynamoDB, late): the deployed table, and any run on the real
    /// clock.
    Collected,
    /// Kept: for runs on a clock of their own, such as tests in a past or future month.
    /// DynamoDB Local collects expired items by the real clock within seconds, which would
    /// take a test's items from under it.
    Kept,
}

impl DynamoStore {
    /// Creates the table (pay-per-request, `pk`/`sk`, TTL on `expires_at` unless `expiry` keeps
    /// expired items) unless it exists. `true` when it was created.
    pub async fn create_table_if_missing(&self, expiry: Expiry) -> Result<bool, StoreError> {
        let exists = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .is_ok();
        if exists {
            return Ok(false);
        }
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(build_error)
        };
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_error)
        };
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .attribute_definitions(attribute("pk")?)
            .attribute_definitions(attribute("sk")?)
            .send()
            .await
            .map_err(request_error)?;
        if expiry == Expiry::Kept {
            return Ok(true);
        }
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(TTL_ATTRIBUTE)
                    .enabled(true)
                    .build()
                    .map_err(build_error)?,
            )
            .send()
            .await
            .map_err(request_error)?;
        Ok(true)
    }
}
