//! Settings read once from flags, environment and an optional file; every setting is
//! listed in README.md ("Configuration"). Precedence: flag, then environment, then file.

use anyhow::Context;
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

/// FHIR Bulk Data export (`$export`).
#[derive(Args, Debug, Clone)]
pub(crate) struct BulkArgs {
    /// Directory for Bulk Data export files (created, readable by Tend's user alone).
    /// Default: beside the SQLite file (`FILE.exports`), or `tend-exports` in the working
    /// directory with PostgreSQL. Several Tend processes on one database need a shared one.
    #[arg(long = "export-dir", env = "TEND_EXPORT_DIR", value_name = "DIR")]
    pub(crate) export_dir: Option<std::path::PathBuf>,
    /// Hours a finished export's files are kept for the client to download.
    #[arg(
        long = "export-keep-hours",
        env = "TEND_EXPORT_KEEP_HOURS",
        default_value_t = 24,
        value_parser = clap::value_parser!(i64).range(1..=720)
    )]
    pub(crate) keep_hours: i64,
}

impl BulkArgs {
    /// The export directory for the database at `url`.
    pub(crate) fn dir(&self, url: &str) -> std::path::PathBuf {
        if let Some(d) = &self.export_dir {
            return d.clone();
        }
        match url.strip_prefix("sqlite://") {
            Some(file) => std::path::PathBuf::from(format!("{file}.exports")),
            None => std::path::PathBuf::from("tend-exports"),
        }
    }
}

/// `tend serve`.
#[derive(Args, Debug, Clone)]
pub(crate) struct ServeArgs {
    /// Address and port of the HTTP API.
    #[arg(long, env = "TEND_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: String,
    #[command(flatten)]
    pub(crate) db: DatabaseArgs,
    #[command(flatten)]
    pub(crate) hl7: Hl7Args,
    #[command(flatten)]
    pub(crate) early_warning: EarlyWarningArgs,
    #[command(flatten)]
    pub(crate) prevention: PreventionArgs,
    /// SMART backend-services clients (JSON: client ids, names, allowed system scopes, public
    /// keys); without it, no service can get an access token.
    #[arg(
        long = "smart-clients",
        env = "TEND_SMART_CLIENTS",
        value_name = "FILE"
    )]
    pub(crate) smart_clients: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub(crate) oidc: OidcArgs,
    #[command(flatten)]
    pub(crate) site: SiteArgs,
    #[command(flatten)]
    pub(crate) bulk: BulkArgs,
}

/// The hospital's settings the pages follow.
#[derive(Args, Debug, Clone)]
pub(crate) struct SiteArgs {
    /// The hospital's time zone (IANA name, e.g. America/New_York): every page shows local
    /// times in it. Default: the machine's zone.
    #[arg(long = "time-zone", env = "TEND_TIME_ZONE", value_parser = parse_zone)]
    pub(crate) time_zone: Option<web::Zone>,
    /// Show patients' names on the ward board's wall display instead of initials (only
    /// where visitors cannot read the screen).
    #[arg(long = "wall-display-names", env = "TEND_WALL_DISPLAY_NAMES")]
    pub(crate) wall_names: bool,
    /// The hospital's Organization id: the sender of referrals to community services.
    #[arg(
        long = "hospital-organization",
        env = "TEND_HOSPITAL_ORGANIZATION",
        default_value = "hospital"
    )]
    pub(crate) hospital: String,
    /// Days without news after which a referral to a community service asks "was the need
    /// met?".
    #[arg(
        long = "referral-follow-up-days",
        env = "TEND_REFERRAL_FOLLOW_UP_DAYS",
        default_value_t = community::DEFAULT_FOLLOW_UP_DAYS,
        value_parser = clap::value_parser!(u32).range(1..=365)
    )]
    pub(crate) follow_up_days: u32,
    /// The quality measures' settings (JSON, as `crates/measures/data/settings.json`):
    /// benchmarks by unit type, the small-cell rule, reference groups. Default: Tend's.
    #[arg(long = "measure-settings", env = "TEND_MEASURE_SETTINGS")]
    pub(crate) measure_settings: Option<std::path::PathBuf>,
    /// Months after a social-needs screening when the next is due.
    #[arg(
        long = "rescreen-months",
        env = "TEND_RESCREEN_MONTHS",
        default_value_t = 12,
        value_parser = clap::value_parser!(u32).range(1..=60)
    )]
    pub(crate) rescreen_months: u32,
}

impl SiteArgs {
    pub(crate) fn web(&self, secure_cookies: bool) -> web::WebConfig {
        web::WebConfig {
            secure_cookies,
            zone: self.time_zone.unwrap_or_else(web::Zone::machine),
            wall_names: self.wall_names,
            navigation: None,
            tumour_board: None,
            screening: None,
            sepsis: None,
            referrals: None,
            safety: None,
            measure_reports: None,
        }
    }

    /// The quality measures' settings: the site's file, or those shipped with Tend.
    pub(crate) fn measure_settings(&self) -> anyhow::Result<measures::Settings> {
        match &self.measure_settings {
            None => Ok(measures::Settings::shipped()),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                Ok(measures::Settings::from_json(&text)?)
            }
        }
    }

    /// The referral service's settings.
    pub(crate) fn referrals(&self, zone: web::Zone) -> referrals::Config {
        referrals::Config {
            hospital: self.hospital.clone(),
            follow_up_days: self.follow_up_days,
            zone: zone.tz(),
            rescreen_months: self.rescreen_months,
        }
    }
}

fn parse_zone(s: &str) -> Result<web::Zone, String> {
    web::Zone::parse(s)
}

/// Single sign-on with the hospital's OpenID Connect provider (optional).
#[derive(Args, Debug, Clone)]
pub(crate) struct OidcArgs {
    /// The provider's issuer URL; with it, the sign-in page offers single sign-on.
    #[arg(long = "oidc-issuer", env = "TEND_OIDC_ISSUER")]
    pub(crate) issuer: Option<String>,
    /// Tend's client id at the provider.
    #[arg(
        long = "oidc-client-id",
        env = "TEND_OIDC_CLIENT_ID",
        default_value = "tend"
    )]
    pub(crate) client_id: String,
    /// Tend's client secret at the provider (prefer the environment: flags show in `ps`).
    #[arg(
        long = "oidc-client-secret",
        env = "TEND_OIDC_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub(crate) client_secret: Option<String>,
    /// The ID-token claim naming the Tend account.
    #[arg(
        long = "oidc-username-claim",
        env = "TEND_OIDC_USERNAME_CLAIM",
        default_value = "preferred_username"
    )]
    pub(crate) username_claim: String,
    /// The provider's name on the sign-in page.
    #[arg(
        long = "oidc-label",
        env = "TEND_OIDC_LABEL",
        default_value = "the hospital's single sign-on"
    )]
    pub(crate) label: String,
}

/// The HL7 v2 feed (MLLP listener and mapping).
#[derive(Args, Debug, Clone)]
pub(crate) struct Hl7Args {
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
    /// PEM certificate chain (leaf first) of the MLLP listener; with --mllp-tls-key the
    /// listener speaks MLLP over TLS only.
    #[arg(
        long = "mllp-tls-cert",
        env = "TEND_MLLP_TLS_CERT",
        value_name = "FILE"
    )]
    pub(crate) mllp_tls_cert: Option<std::path::PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of --mllp-tls-cert.
    #[arg(long = "mllp-tls-key", env = "TEND_MLLP_TLS_KEY", value_name = "FILE")]
    pub(crate) mllp_tls_key: Option<std::path::PathBuf>,
    /// PEM CA certificates: MLLP over TLS clients must present a certificate signed by one.
    #[arg(
        long = "mllp-tls-client-ca",
        env = "TEND_MLLP_TLS_CLIENT_CA",
        value_name = "FILE"
    )]
    pub(crate) mllp_tls_client_ca: Option<std::path::PathBuf>,
    /// A table of the feeds' local OBX-3 codes: tab-separated `KEY SYSTEM CODE DISPLAY`
    /// per line, KEY being OBX-3.1 or `OBX-3.3^OBX-3.1`.
    #[arg(long = "hl7-local-codes", env = "TEND_HL7_LOCAL_CODES")]
    pub(crate) local_codes: Option<std::path::PathBuf>,
    /// Zone offset of HL7 v2 times sent without one (`+HH:MM`).
    #[arg(
        long = "hl7-default-offset",
        env = "TEND_HL7_DEFAULT_OFFSET",
        default_value = "+00:00"
    )]
    pub(crate) default_offset: String,
}

impl Hl7Args {
    /// Whether the listener is on.
    pub(crate) fn enabled(&self) -> bool {
        !self.mllp_listen.is_empty() && self.mllp_listen != "off"
    }

    /// The interface settings, with the local-code table read and checked.
    pub(crate) fn config(&self) -> anyhow::Result<interface::Config> {
        let mut mapping = hl7v2::MappingConfig {
            default_offset: hl7v2::MappingConfig::parse_offset(&self.default_offset)
                .map_err(|e| anyhow::anyhow!("TEND_HL7_DEFAULT_OFFSET: {e}"))?,
            ..Default::default()
        };
        if let Some(path) = &self.local_codes {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the local-code table {}", path.display()))?;
            mapping.local_codes = hl7v2::MappingConfig::parse_local_codes(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        }
        Ok(interface::Config { mapping })
    }

    /// The MLLP listener's TLS settings, with the files read and checked: None for plain
    /// TCP. Certificate and key come together; a client CA needs them.
    pub(crate) fn tls(&self) -> anyhow::Result<Option<std::sync::Arc<mllp::tls::ServerConfig>>> {
        let set = |p: &Option<std::path::PathBuf>| p.clone().filter(|p| !p.as_os_str().is_empty());
        let (cert, key, client_ca) = (
            set(&self.mllp_tls_cert),
            set(&self.mllp_tls_key),
            set(&self.mllp_tls_client_ca),
        );
        match (cert, key) {
            (Some(cert), Some(key)) => {
                let config = mllp::tls::server_config(&cert, &key, client_ca.as_deref())
                    .context("the MLLP listener's TLS settings")?;
                Ok(Some(config))
            }
            (Some(cert), None) => anyhow::bail!(
                "TEND_MLLP_TLS_CERT ({}) is set without TEND_MLLP_TLS_KEY: set both for MLLP over TLS, or neither",
                cert.display()
            ),
            (None, Some(key)) => anyhow::bail!(
                "TEND_MLLP_TLS_KEY ({}) is set without TEND_MLLP_TLS_CERT: set both for MLLP over TLS, or neither",
                key.display()
            ),
            (None, None) => match client_ca {
                Some(ca) => anyhow::bail!(
                    "TEND_MLLP_TLS_CLIENT_CA ({}) needs TEND_MLLP_TLS_CERT and TEND_MLLP_TLS_KEY: client certificates are checked only over TLS",
                    ca.display()
                ),
                None => Ok(None),
            },
        }
    }
}

/// Care gaps and the CDS Hooks service.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct PreventionArgs {
    /// A directory of care-gap rule files (TOML) over the shipped USPSTF rules: a file with a
    /// shipped rule's id replaces it (e.g. another interval), `enabled = false` switches it off.
    #[arg(
        long = "care-gap-rules",
        env = "TEND_CARE_GAP_RULES",
        value_name = "DIR"
    )]
    pub(crate) care_gap_rules: Option<std::path::PathBuf>,
    /// Trusted CDS clients (JSON: issuers with their JWKS). Without it, `tend serve` refuses
    /// every CDS Hooks call; `tend demo` accepts calls without a token.
    #[arg(long = "cds-trust", env = "TEND_CDS_TRUST", value_name = "FILE")]
    pub(crate) cds_trust: Option<std::path::PathBuf>,
    /// Public base URL of Tend (e.g. `https://tend.hospital.org`): the audience of CDS
    /// clients' JWTs and the base of links in cards. Default: the request's Host.
    #[arg(long = "public-url", env = "TEND_PUBLIC_URL", value_name = "URL")]
    pub(crate) public_url: Option<String>,
}

impl PreventionArgs {
    /// The rules in force.
    pub(crate) fn rules(&self) -> anyhow::Result<prevention::RuleSet> {
        match &self.care_gap_rules {
            Some(dir) => prevention::RuleSet::load(dir)
                .context("reading the care-gap rules (TEND_CARE_GAP_RULES)"),
            None => Ok(prevention::RuleSet::builtin()),
        }
    }

    /// The CDS Hooks configuration; `open` accepts calls without a token (demo only).
    pub(crate) fn cds(&self, open: bool) -> anyhow::Result<cds_hooks::Config> {
        let trust = match (&self.cds_trust, open) {
            (Some(path), _) => Some(std::sync::Arc::new(
                trusted_clients::Trust::load(path)
                    .context("reading the trusted CDS clients (TEND_CDS_TRUST)")?,
            )),
            (None, true) => None,
            (None, false) => Some(std::sync::Arc::new(
                trusted_clients::Trust::new(Vec::new())?,
            )),
        };
        Ok(cds_hooks::Config {
            trust,
            public_url: self.public_url.clone(),
        })
    }
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
    /// Only sets taken within this many hours raise alerts (older ones are scored only).
    #[arg(long, env = "TEND_ALERT_RECENCY_HOURS", default_value_t = 24)]
    pub(crate) alert_recency_hours: u32,
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
        c.alert_recency_ms = i64::from(self.alert_recency_hours.max(1)) * 3_600_000;
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
