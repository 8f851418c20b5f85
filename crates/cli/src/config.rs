//! Settings read once from flags and environment; every setting is listed in README.md
//! ("Configuration").

use clap::Args;

/// Where the data lives.
#[derive(Args, Debug, Clone)]
pub(crate) struct DatabaseArgs {
    /// Database URL: `sqlite://PATH` (embedded, default) or `postgres://USER@HOST:PORT/DB`.
    #[arg(
        long = "database",
        env = "TEND_DATABASE_URL",
        default_value = "sqlite://tend.db"
    )]
    pub(crate) database: String,
}

/// `tend serve`.
#[derive(Args, Debug, Clone)]
pub(crate) struct ServeArgs {
    /// Address and port of the HTTP API.
    #[arg(long, env = "TEND_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: String,
    #[command(flatten)]
    pub(crate) db: DatabaseArgs,
    /// Address and port of the HL7 v2 MLLP listener (reserved for the HL7 v2 feed).
    #[arg(
        long = "mllp-listen",
        env = "TEND_MLLP_LISTEN",
        default_value = "127.0.0.1:2575"
    )]
    pub(crate) mllp_listen: String,
}
