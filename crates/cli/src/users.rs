//! `tend users`: accounts and API tokens at the console (the first administrator too).

use std::io::BufRead;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::config::DatabaseArgs;

/// Who the console acts as in audit records.
const CONSOLE: &str = "console (tend users)";

#[derive(Subcommand, Debug)]
pub(crate) enum UsersCommand {
    /// Add an account (the first one must be an administrator). The password is read from
    /// standard input with --password-stdin, or generated and printed once.
    Add(AddArgs),
    /// List accounts: user name, role, wards, state.
    List(DbOnly),
    /// Disable an account: its sessions end and its API tokens are revoked.
    Disable(NameArgs),
    /// Enable a disabled account.
    Enable(NameArgs),
    /// Set a new password (read from standard input with --password-stdin, or generated and
    /// printed once); the account's sessions end.
    ResetPassword(PasswordArgs),
    /// Issue an API token for a person's scripts (acts with the person's role; printed once).
    Token(TokenArgs),
    /// List API tokens (ids, owners, labels; never the tokens).
    Tokens(TokensArgs),
    /// Revoke an API token by its id.
    Revoke(RevokeArgs),
}

#[derive(Args, Debug)]
pub(crate) struct DbOnly {
    #[command(flatten)]
    db: DatabaseArgs,
}

#[derive(Args, Debug)]
pub(crate) struct AddArgs {
    /// User name (letters, digits, '.', '-', '_').
    username: String,
    /// Role: nurse, physician, rapid-response, navigator, mdt-coordinator, social-worker,
    /// quality-officer, safety-reviewer, privacy-officer, administrator, community-partner.
    #[arg(long)]
    role: String,
    /// The person's name as shown.
    #[arg(long)]
    name: String,
    /// The person's Practitioner (`Practitioner/ID`): who acknowledges and records.
    #[arg(long)]
    practitioner: Option<String>,
    /// A ward of the person's role (`Location/ID` or the id); repeat for several.
    #[arg(long = "ward")]
    wards: Vec<String>,
    /// A community partner's organisation (`Organization/ID` or the id): the one whose
    /// referrals they see.
    #[arg(long)]
    organization: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    db: DatabaseArgs,
}

#[derive(Args, Debug)]
pub(crate) struct NameArgs {
    username: String,
    #[command(flatten)]
    db: DatabaseArgs,
}

#[derive(Args, Debug)]
pub(crate) struct PasswordArgs {
    username: String,
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    db: DatabaseArgs,
}

#[derive(Args, Debug)]
pub(crate) struct TokenArgs {
    username: String,
    /// What the token is for (shown in the token list).
    #[arg(long, default_value = "script")]
    label: String,
    /// Narrower SMART scopes than the role (e.g. `user/Observation.read`).
    #[arg(long)]
    scope: Option<String>,
    #[command(flatten)]
    db: DatabaseArgs,
}

#[derive(Args, Debug)]
pub(crate) struct TokensArgs {
    username: Option<String>,
    #[command(flatten)]
    db: DatabaseArgs,
}

#[derive(Args, Debug)]
pub(crate) struct RevokeArgs {
    /// The token's id as `tend users tokens` lists it.
    id: String,
    #[command(flatten)]
    db: DatabaseArgs,
}

pub(crate) fn accounts(db: &DatabaseArgs) -> anyhow::Result<accounts::Accounts> {
    let store = crate::open_store(db)?;
    Ok(accounts::Accounts::new(
        store,
        std::sync::Arc::new(store::SystemClock),
    ))
}

/// A password that passes the rules: four random words' worth of entropy, readable.
pub(crate) fn generated_password() -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}-{}-{}", &u[0..5], &u[5..10], &u[10..15], &u[15..20])
}

fn password(stdin: bool) -> anyhow::Result<(String, bool)> {
    if stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        Ok((line.trim_end_matches(['\r', '\n']).to_string(), false))
    } else {
        Ok((generated_password(), true))
    }
}

fn ward(w: &str) -> String {
    if w.contains('/') {
        w.to_string()
    } else {
        format!("Location/{w}")
    }
}

pub(crate) fn run(cmd: UsersCommand) -> anyhow::Result<()> {
    match cmd {
        UsersCommand::Add(a) => {
            let role = access::Role::parse(&a.role).with_context(|| {
                format!(
                    "unknown role '{}': use one of {}",
                    a.role,
                    access::Role::ALL
                        .iter()
                        .map(|r| r.code())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            let (pw, generated) = password(a.password_stdin)?;
            let accounts = accounts(&a.db)?;
            accounts.add(
                accounts::NewAccount {
                    username: a.username.clone(),
                    name: a.name,
                    role,
                    practitioner: a.practitioner,
                    wards: a.wards.iter().map(|w| ward(w)).collect(),
                    organization: a
                        .organization
                        .map(|o| o.trim_start_matches("Organization/").to_string()),
                    password: pw.clone(),
                },
                CONSOLE,
            )?;
            println!("Added {} ({}).", a.username, role.title());
            if generated {
                println!("Password (shown once; hand it over privately): {pw}");
            }
        }
        UsersCommand::List(a) => {
            for u in accounts(&a.db)?.list()? {
                let state = if u.disabled { "disabled" } else { "active" };
                println!(
                    "{:<20} {:<20} {:<8} {:<28} {}",
                    u.username,
                    u.role.code(),
                    state,
                    u.name,
                    u.wards.join(",")
                );
            }
        }
        UsersCommand::Disable(a) => {
            accounts(&a.db)?.disable(&a.username, CONSOLE)?;
            println!(
                "Disabled {}: its sessions ended and its API tokens were revoked.",
                a.username
            );
        }
        UsersCommand::Enable(a) => {
            accounts(&a.db)?.enable(&a.username, CONSOLE)?;
            println!("Enabled {}.", a.username);
        }
        UsersCommand::ResetPassword(a) => {
            let (pw, generated) = password(a.password_stdin)?;
            accounts(&a.db)?.reset_password(&a.username, &pw, CONSOLE)?;
            println!("New password set for {}; their sessions ended.", a.username);
            if generated {
                println!("Password (shown once; hand it over privately): {pw}");
            }
        }
        UsersCommand::Token(a) => {
            let t =
                accounts(&a.db)?.issue_token(&a.username, &a.label, a.scope.as_deref(), CONSOLE)?;
            println!("{t}");
        }
        UsersCommand::Tokens(a) => {
            for t in accounts(&a.db)?.tokens(a.username.as_deref())? {
                println!(
                    "{}  {:<20} {:<24} {}",
                    t.id,
                    t.username,
                    t.label,
                    t.scopes.unwrap_or_else(|| "(the user's role)".into())
                );
            }
        }
        UsersCommand::Revoke(a) => {
            accounts(&a.db)?.revoke_token(&a.id, CONSOLE)?;
            println!("Revoked {}.", a.id);
        }
    }
    Ok(())
}
