//! Per-user settings that follow a person from device to device: the ward and view of their
//! board, its order, and whether new high alerts make a sound. Kept as one of Tend's own
//! records (keyed by user name), not in the browser, so the charge nurse's choice holds on
//! the ward's shared tablet and at the desk alike.

use serde::{Deserialize, Serialize};
use store::Store;

/// Where the settings live in the store's keyed records.
const SPACE: &str = "user-settings";

/// One person's settings. Every field is optional: absent means the default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Settings {
    /// The board's ward (`Location` id, or `all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ward: Option<String>,
    /// The board's view: [`View`] code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) view: Option<String>,
    /// The board's order: `risk` (default) or `bed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sort: Option<String>,
    /// A sound (and a browser notification, where allowed) for each new high alert.
    #[serde(default)]
    pub(crate) sound: bool,
}

/// How the board is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    /// Every column, touch-sized rows.
    Standard,
    /// One line per bed: a 40-bed ward on one screen.
    Compact,
    /// A wall display: large type, no names (initials and bed), live.
    Wall,
}

impl View {
    pub(crate) fn parse(s: &str) -> Option<View> {
        match s {
            "standard" => Some(View::Standard),
            "compact" => Some(View::Compact),
            "wall" => Some(View::Wall),
            _ => None,
        }
    }

    pub(crate) fn code(self) -> &'static str {
        match self {
            View::Standard => "standard",
            View::Compact => "compact",
            View::Wall => "wall",
        }
    }
}

impl Settings {
    /// A person's settings (the defaults when none are kept or they cannot be read).
    pub(crate) fn load(store: &dyn Store, username: &str) -> Settings {
        store
            .keyed_get(SPACE, username)
            .ok()
            .flatten()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default()
    }

    /// Keep a person's settings (a failure is logged: settings are a convenience).
    pub(crate) fn save(&self, store: &dyn Store, username: &str) {
        let Ok(text) = serde_json::to_string(self) else {
            return;
        };
        if let Err(e) = store.keyed_put(vec![(SPACE.into(), username.into(), Some(text))], vec![]) {
            tracing::warn!(error = %e, "user settings could not be kept");
        }
    }

    pub(crate) fn view(&self) -> View {
        self.view
            .as_deref()
            .and_then(View::parse)
            .unwrap_or(View::Standard)
    }

    pub(crate) fn by_bed(&self) -> bool {
        self.sort.as_deref() == Some("bed")
    }
}
