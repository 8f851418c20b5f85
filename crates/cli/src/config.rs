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
    /// Address and port of the HL7 v2 MLLP listener (`off` to disable).
    #[arg(
        long = "mllp-listen",
        env = "TEND_MLLP_LISTEN",
        default_value = "127.0.0.1:2575"
    )]
    pub(crate) mllp_listen: String,
    /// IP addresses allowed to connect to the MLLP listener, comma-separated (default:
    /// loopback only).
    #[arg(long = "mllp-allow", env = "TEND_MLLP_ALLOW", default_value = "")]
    pub(crate) mllp_allow: String,
    #[command(flatten)]
    pub(crate) early_warning: EarlyWarningArgs,
}

/// The early-warning service (scores, alerts, escalation).
#[derive(Args, Debug, Clone)]
pub(crate) struct EarlyWarningArgs {
    /// Where a set without an oxygen reading means "on air": `all`, or a comma-separated
    /// list of wards (`Location/ID`) and feeds (`source:PREFIX` of the readings' meta.source).
    /// Empty (the default): the air/oxygen parameter is then missing.
    #[arg(long, env = "TEND_AIR_WHEN_ABSENT", default_value = "")]
    pub(crate) air_when_absent: String,
    /// Readings posted one by one within this many minutes of a set's first reading join it.
    #[arg(long, env = "TEND_SET_WINDOW_MINUTES", default_value_t = 10)]
    pub(crate) set_window_minutes: u32,
    /// Labs (white cells, PaCO2, band forms) count for SIRS this many hours back.
    #[arg(long, env = "TEND_SIRS_LAB_HOURS", default_value_t = 24)]
    pub(crate) sirs_lab_hours: u32,
    /// Minutes to acknowledge a low-medium alert (a single parameter scoring 3).
    #[arg(long, env = "TEND_ALERT_LOW_MEDIUM_MINUTES", default_value_t = 60)]
    pub(crate) alert_low_medium_minutes: u32,
    /// Minutes to acknowledge a medium alert (NEWS2 5–6).
    #[arg(long, env = "TEND_ALERT_MEDIUM_MINUTES", default_value_t = 60)]
    pub(crate) alert_medium_minutes: u32,
    /// Minutes to acknowledge a high alert (NEWS2 7+).
    #[arg(long, env = "TEND_ALERT_HIGH_MINUTES", default_value_t = 30)]
    pub(crate) alert_high_minutes: u32,
    /// A rise of TEND_TREND_RISE points over the last TEND_TREND_SETS sets is flagged.
    #[arg(long, env = "TEND_TREND_SETS", default_value_t = 3)]
    pub(crate) trend_sets: usize,
    #[arg(long, env = "TEND_TREND_RISE", default_value_t = 2)]
    pub(crate) trend_rise: u32,
}

impl EarlyWarningArgs {
    /// The typed configuration of the service.
    pub(crate) fn config(&self) -> anyhow::Result<early_warning::Config> {
        let mut c = early_warning::Config::default();
        for item in self
            .air_when_absent
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if item == "all" {
                c.air_when_absent.all = true;
            } else if let Some(prefix) = item.strip_prefix("source:") {
                c.air_when_absent.sources.push(prefix.to_string());
            } else if item.starts_with("Location/") {
                c.air_when_absent.wards.push(item.to_string());
            } else {
                anyhow::bail!(
                    "TEND_AIR_WHEN_ABSENT: '{item}' is not 'all', 'Location/ID' or 'source:PREFIX'"
                );
            }
        }
        if self.set_window_minutes == 0 || self.trend_sets < 2 {
            anyhow::bail!(
                "TEND_SET_WINDOW_MINUTES must be at least 1 and TEND_TREND_SETS at least 2"
            );
        }
        c.window.readings_ms = i64::from(self.set_window_minutes) * 60_000;
        c.window.labs_ms = i64::from(self.sirs_lab_hours) * 3_600_000;
        c.policy.low_medium.deadline_minutes = self.alert_low_medium_minutes.max(1);
        c.policy.medium.deadline_minutes = self.alert_medium_minutes.max(1);
        c.policy.high.deadline_minutes = self.alert_high_minutes.max(1);
        c.trend_sets = self.trend_sets;
        c.trend_rise = self.trend_rise;
        Ok(c)
    }
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
