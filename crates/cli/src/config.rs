//! Settings read once from flags, environment and an optional file; every setting is
//! listed in README.md ("Configuration"). Precedence: flag, then environment, then file.

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

/// Settings from a file of `TEND_NAME=value` lines (`#` comments, blank lines allowed),
/// named by `--config FILE` or `TEND_CONFIG`. Returns the pairs in file order.
pub(crate) fn parse_config_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!("line {}: expected NAME=value", n + 1));
        };
        let k = k.trim();
        if !k.starts_with("TEND_") {
            return Err(format!(
                "line {}: '{k}' is not a Tend setting (names start with TEND_)",
                n + 1
            ));
        }
        out.push((k.to_string(), v.trim().trim_matches('"').to_string()));
    }
    Ok(out)
}

/// Apply the config file, if any, to the environment for settings not already set there,
/// so flags and environment keep precedence. Runs once, before flags are parsed.
pub(crate) fn load_config_file() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let from_flag = args
        .iter()
        .position(|a| a == "--config")
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| {
            args.iter()
                .find_map(|a| a.strip_prefix("--config=").map(String::from))
        });
    let Some(path) = from_flag.or_else(|| std::env::var("TEND_CONFIG").ok()) else {
        return Ok(());
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("reading the config file {path}: {e}"))?;
    let pairs = parse_config_file(&text).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    for (k, v) in pairs {
        if std::env::var_os(&k).is_none() {
            std::env::set_var(k, v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files_hold_tend_settings() {
        let pairs = parse_config_file(
            "# comment\n\nTEND_LISTEN = 0.0.0.0:9000\nTEND_DATABASE_URL=\"postgres://a@b/c\"\n",
        )
        .unwrap();
        assert_eq!(
            pairs,
            vec![
                ("TEND_LISTEN".to_string(), "0.0.0.0:9000".to_string()),
                (
                    "TEND_DATABASE_URL".to_string(),
                    "postgres://a@b/c".to_string()
                )
            ]
        );
        assert!(parse_config_file("LISTEN=1")
            .unwrap_err()
            .contains("line 1"));
        assert!(parse_config_file("TEND_LISTEN").is_err());
    }
}
