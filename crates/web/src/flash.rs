//! Messages a form post leaves for the page it redirects to (post, redirect, get): kept in
//! memory under a random key for a few minutes and handed out once, so reloading the page
//! repeats nothing and shows nothing twice (an API token is shown exactly once).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a message waits for its page.
const KEEP: Duration = Duration::from_secs(300);

/// A message: the notice, and a secret shown once (a new API token).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    pub(crate) notice: String,
    pub(crate) secret: Option<String>,
}

/// Messages by key, for whoever holds the key.
#[derive(Default)]
pub(crate) struct Flash {
    waiting: Mutex<HashMap<String, (Instant, String, Message)>>,
}

impl Flash {
    /// Keep a message for `owner` (a user name); returns its key for the redirect.
    pub(crate) fn put(&self, owner: &str, message: Message) -> String {
        let key = uuid::Uuid::new_v4().simple().to_string();
        if let Ok(mut m) = self.waiting.lock() {
            m.retain(|_, (at, ..)| at.elapsed() < KEEP);
            m.insert(key.clone(), (Instant::now(), owner.to_string(), message));
        }
        key
    }

    /// The message under `key`, once, and only for its owner.
    pub(crate) fn take(&self, owner: &str, key: &str) -> Option<Message> {
        let mut m = self.waiting.lock().ok()?;
        match m.get(key) {
            Some((at, who, _)) if who == owner && at.elapsed() < KEEP => {}
            _ => return None,
        }
        m.remove(key).map(|(_, _, msg)| msg)
    }
}

impl crate::Web {
    /// Redirect to `path` (which may carry a query) with `notice` shown once there: post,
    /// redirect, get.
    pub(crate) fn redirect_with_notice(
        &self,
        user: &crate::User,
        path: &str,
        notice: String,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        let key = self.flash.put(
            &user.principal.id,
            Message {
                notice,
                secret: None,
            },
        );
        let sep = if path.contains('?') { '&' } else { '?' };
        axum::response::Redirect::to(&format!("{path}{sep}done={key}")).into_response()
    }

    /// The notice a post left under `done` (`?done=KEY`), once, for its owner.
    pub(crate) fn notice(&self, user: &crate::User, done: Option<String>) -> Option<String> {
        done.and_then(|k| self.flash.take(&user.principal.id, &k))
            .map(|m| m.notice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_shown_once_and_only_to_its_owner() {
        let f = Flash::default();
        let m = Message {
            notice: "done".into(),
            secret: Some("tend_x".into()),
        };
        let k = f.put("admin", m.clone());
        assert_eq!(f.take("someone", &k), None);
        assert_eq!(f.take("admin", &k), Some(m));
        assert_eq!(f.take("admin", &k), None, "once");
    }
}
