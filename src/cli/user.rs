//! `weir user set|delete` (SCRAM credentials).

use clap::{Args, Subcommand};

use super::{CliResult, Common};

#[derive(Args, Debug)]
pub struct UserArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub cmd: UserCmd,
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Delete a user's credentials.
    Delete { name: String },
}

pub async fn run(_args: UserArgs) -> CliResult {
    Ok(())
}
