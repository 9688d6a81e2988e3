//! The on-sale simulator: `onsale --help`. What it answers, and results, are in docs/simulator.md.

use std::process::ExitCode;

use tools::onsale::{parse, run, Command, USAGE};

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Command::Run(options)) => options,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("onsale: {error}");
            return ExitCode::from(2);
        }
    };
    // Time paused: a retry's pause is a step of the simulation, not of the machine's clock.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("onsale: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&options)) {
        Ok(report) => {
            print!("{}", report.summary());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("onsale: {error:#}");
            ExitCode::FAILURE
        }
    }
}
