//! `weir acl list|create|delete` (DescribeAcls, CreateAcls, DeleteAcls).

use clap::{Args, Subcommand};

use super::{CliResult, Common};

#[derive(Args, Debug)]
pub struct AclArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub cmd: AclCmd,
}

#[derive(Subcommand, Debug)]
pub enum AclCmd {
    /// List ACLs.
    List,
}

pub async fn run(_args: AclArgs) -> CliResult {
    Ok(())
}
