//! The `weir` command: `weir [serve] [server.properties|weir.toml] [--override name=value]... [--strict]`
//! runs the broker; `weir topic|produce|consume|group|config|cluster|acl|user ...` are the
//! client tools (see `weir::cli`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use weir::config::{load, LoadOptions};
use weir::Broker;

#[derive(Parser)]
#[command(name = "weir", version, about = "A Kafka-wire-compatible broker")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the broker (the default).
    Serve(ServeArgs),
    #[command(flatten)]
    Client(Box<weir::cli::ClientCommand>),
}

#[derive(clap::Args, Default)]
struct ServeArgs {
    /// Config file: TOML (`.toml`) or a Kafka `server.properties`.
    #[arg(long = "config", short = 'c')]
    config: Option<PathBuf>,
    /// A config file given positionally, as `kafka-server-start.sh server.properties` takes it.
    #[arg(value_name = "CONFIG_FILE")]
    file: Option<PathBuf>,
    /// Set a property, as `kafka-server-start.sh --override name=value` does. Repeatable.
    #[arg(long = "override", value_name = "NAME=VALUE")]
    overrides: Vec<String>,
    /// Refuse settings Weir does not use (unknown names, topic-level names) instead of listing
    /// them in a startup warning; the same as `weir.config.strict=true`.
    #[arg(long)]
    strict: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(a)) => a,
        Some(Command::Client(c)) => return weir::cli::run(*c),
        None => cli.serve,
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let opts = LoadOptions {
        file: args.config.or(args.file),
        env: std::env::vars().collect(),
        overrides: args.overrides,
        strict: args.strict,
    };
    let config = match load(&opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("weir: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("weir: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let handle = match Broker::start(config).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!("startup failed: {e}");
                return ExitCode::FAILURE;
            }
        };
        wait_for_signal().await;
        handle.shutdown().await;
        ExitCode::SUCCESS
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        _ = term.recv() => tracing::info!("SIGTERM received"),
    }
}
