//! `tend audit verify`: walk the audit chain and say whether it is intact.

use clap::{Args, Subcommand};

use crate::config::DatabaseArgs;

#[derive(Subcommand, Debug)]
pub(crate) enum AuditCommand {
    /// Check every AuditEvent Tend recorded against the hash chain: exits 1 naming the first
    /// event that was changed, removed or reordered.
    Verify(VerifyArgs),
}

#[derive(Args, Debug)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    db: DatabaseArgs,
}

pub(crate) fn run(cmd: AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::Verify(args) => verify(args),
    }
}

fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let store = crate::open_store(&args.db)?;
    let mut bodies = Vec::new();
    let mut cursor = 0;
    loop {
        let (hits, next) = store.scan("AuditEvent", cursor, 5000)?;
        if hits.is_empty() {
            break;
        }
        bodies.extend(hits.into_iter().map(|h| h.body));
        cursor = next;
    }
    let report = store::audit::verify(bodies.iter().map(String::as_str));
    if let Some((id, why)) = &report.broken {
        anyhow::bail!(
            "the audit chain is broken at AuditEvent/{id}: {why} ({} events verified before it)",
            report.linked
        );
    }
    match &report.head {
        Some(h) => println!(
            "Audit chain intact: {} events recorded by Tend, head {} (sequence {}); {} AuditEvents from other systems (not chained)",
            report.linked, h.hash, h.sequence, report.external
        ),
        None => println!(
            "No audit events recorded by Tend yet; {} AuditEvents from other systems",
            report.external
        ),
    }
    Ok(())
}
