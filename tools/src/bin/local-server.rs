//! Every route of the API on 127.0.0.1, from one process.
//!
//!   local-server                          in-memory store with the demo catalog
//!   local-server --dynamodb URL [--table NAME] [--create-table] [--catalog FILE | --demo-catalog]
//!
//! PORT picks the port (default 3000; 0 for any free one). The other variables are the
//! functions' own (HOLD_SECONDS, ADMIT_TICK_SECONDS, ...); admission ticks every second unless
//! ADMIT_TICK_SECONDS says otherwise. X-User-Id names the caller. CORS_ALLOWED_ORIGINS
//! (comma-separated) lets a page served from another origin call it, as the stack's CORS does.

use std::sync::Arc;

use anyhow::{bail, Context};
use tokio::net::TcpListener;
use tracing::info;

use ticketing::booking::Catalog;
use ticketing::config::Config;
use ticketing::domain::{Clock, SystemClock};
use ticketing::http::{App, Edge};
use ticketing::metrics::MetricsSink;
use ticketing::store::{DynamoStore, MemoryStore, Store};
use ticketing::Ticketing;
use tools::demo_catalog::demo_catalog;

#[derive(Default)]
struct Options {
    dynamodb: Option<String>,
    table: Option<String>,
    create_table: bool,
    catalog: Option<String>,
    demo_catalog: bool,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dynamodb" => options.dynamodb = Some(args.next().context("--dynamodb needs a URL")?),
            "--table" => options.table = Some(args.next().context("--table needs a name")?),
            "--create-table" => options.create_table = true,
            "--catalog" => options.catalog = Some(args.next().context("--catalog needs a file")?),
            "--demo-catalog" => options.demo_catalog = true,
            "-h" | "--help" => {
                println!("usage: local-server [--dynamodb URL [--table NAME] [--create-table] [--catalog FILE | --demo-catalog]]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,aws=warn,hyper=warn".into()),
        )
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // The log on stderr: stdout carries the listening line that tests read.
        .with_writer(std::io::stderr)
        .init();
    let options = options()?;
    let mut config = Config::from_lookup(|name| match name {
        "ADMIT_TICK_SECONDS" => Some(std::env::var(name).unwrap_or_else(|_| "1".into())),
        _ => std::env::var(name).ok(),
    })?;
    config.trust_user_header = true;
    let port: u16 = std::env::var("PORT")
        .unwrap_or_else(|_| "3000".into())
        .parse()
        .context("PORT must be a port number")?;
    // The port first: a taken one is said before anything is loaded or written.
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| {
            format!("binding 127.0.0.1:{port} (taken by another local server? set PORT to another port)")
        })?;

    let store: Arc<dyn Store> = match &options.dynamodb {
        None => Arc::new(MemoryStore::new()),
        Some(endpoint) => {
            let table = options.table.clone().unwrap_or(config.table_name.clone());
            let store = DynamoStore::connect(table, Some(endpoint)).await;
            if options.create_table
                && store
                    .create_table_if_missing(ticketing::store::Expiry::Collected)
                    .await?
            {
                info!(table = store.table(), "created the table");
            }
            Arc::new(store)
        }
    };
    // TOPUP_MODE=provider: charges go to Stripe (STRIPE_API_BASE, STRIPE_SECRET_KEY and
    // STRIPE_WEBHOOK_SECRET from the environment), and only its signed webhook credits.
    let payments = ticketing::stripe::payments(&config, |name| std::env::var(name).ok())?;
    let mut booking = Ticketing::new(store, Arc::new(SystemClock), config.settings.clone())
        .with_rate_limit(config.rate_limit);
    if let Some(payments) = payments {
        booking = booking.with_payments(payments);
    }
    let catalog = match (
        &options.catalog,
        options.dynamodb.is_none() || options.demo_catalog,
    ) {
        (Some(file), _) => Some(Catalog::from_json(
            &std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?,
        )?),
        (None, true) => Some(demo_catalog(SystemClock.now())?),
        (None, false) => None,
    };
    if let Some(catalog) = catalog {
        let report = booking.load_catalog(&catalog).await?;
        info!(
            created = report.created,
            present = report.already_present,
            "catalog loaded"
        );
    }

    // Tests read this line to find the port.
    println!("listening on http://{}", listener.local_addr()?);
    let app = App {
        metrics: MetricsSink::Off,
        booking,
        trust_user_header: true,
        // PROBLEM_TYPE_BASE and ORIGIN_VERIFY_SECRET as a function reads them: unset, the
        // local /problems/ pages and no edge.
        edge: Edge {
            problem_types: config.problem_types,
            origin_secret: config.origin_secret,
        },
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        info!("Ctrl-C: shutting down");
    };
    // Origins a page served elsewhere calls this server from (the stack's CorsAllowedOrigins).
    let cors = tools::web::Cors::new(&std::env::var("CORS_ALLOWED_ORIGINS").unwrap_or_default());
    tools::server::serve(app, cors, listener, shutdown).await
}
