//! Loads a catalog file into the DynamoDB table; running it again changes nothing.
//!
//!   load-catalog FILE [--table NAME] [--endpoint URL] [--create-table]
//!
//! The table defaults to TABLE_NAME; credentials and region come from the usual AWS variables.

use anyhow::{bail, Context};

use ticketing::booking::Catalog;
use ticketing::domain::SystemClock;
use ticketing::store::DynamoStore;
use ticketing::{Settings, Ticketing};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut file = None;
    let mut table = std::env::var("TABLE_NAME").ok();
    let mut endpoint = None;
    let mut create_table = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--table" => table = Some(args.next().context("--table needs a name")?),
            "--endpoint" => endpoint = Some(args.next().context("--endpoint needs a URL")?),
            "--create-table" => create_table = true,
            "-h" | "--help" => {
                println!(
                    "usage: load-catalog FILE [--table NAME] [--endpoint URL] [--create-table]"
                );
                return Ok(());
            }
            other if other.starts_with('-') => bail!("unknown option {other:?}"),
            other => file = Some(other.to_owned()),
        }
    }
    let file =
        file.context("usage: load-catalog FILE [--table NAME] [--endpoint URL] [--create-table]")?;
    let table = table.context("name the table with --table or TABLE_NAME")?;
    let catalog = Catalog::from_json(
        &std::fs::read_to_string(&file).with_context(|| format!("reading {file}"))?,
    )?;
    let store = DynamoStore::connect(table, endpoint.as_deref()).await;
    if create_table
        && store
            .create_table_if_missing(ticketing::store::Expiry::Collected)
            .await?
    {
        println!("created table {}", store.table());
    }
    let booking = Ticketing::new(
        std::sync::Arc::new(store),
        std::sync::Arc::new(SystemClock),
        Settings::default(),
    );
    let report = booking.load_catalog(&catalog).await?;
    println!(
        "{} concerts: {} items created, {} already present",
        catalog.concerts.len(),
        report.created,
        report.already_present
    );
    Ok(())
}
