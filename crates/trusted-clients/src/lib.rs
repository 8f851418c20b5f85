//! Verifies the signed JSON Web Tokens ([RFC 7519](https://www.rfc-editor.org/rfc/rfc7519))
//! that trusted external clients present:
//!
//! - a CDS client (the EHR) calling Tend's CDS Hooks 2.0 services sends
//!   `Authorization: Bearer <JWT>` ([trusting CDS clients](https://cds-hooks.org/specification/current/#trusting-cds-clients));
//! - a SMART Backend Services client authenticates to the token endpoint with a
//!   `client_assertion` JWT ([asymmetric client authentication](https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html)).
//!
//! [`Trust`] holds the trusted issuers, each with its JSON Web Key Set, and verifies a token
//! for one endpoint at a time given by the caller: signature (RS384 or ES384 only, as SMART
//! requires; `none` and HMAC are refused), issuer, key by `kid`, audience, expiry with
//! leeway, a short lifetime, and a `jti` never seen before (a bounded replay cache).
//! Every refusal is a [`TrustError`] whose message tells the client's developer what to fix
//! and never contains the token.
//!
//! ```no_run
//! # use std::{path::Path, sync::Arc};
//! let trust = Arc::new(trusted_clients::Trust::load(Path::new("trusted-clients.json"))?);
//! # let (token, now) = ("", 0);
//! let claims = trust.verify(token, "https://tend.example.org/cds-services/news2", now)?;
//! println!("call from {} ({})", claims.iss, claims.sub);
//! # Ok::<(), trusted_clients::TrustError>(())
//! ```
//!
//! *Architecture invariant:* no clock and no network: `now` is an argument, keys come from
//! configuration (a `jku` header is never fetched). The only IO is [`Trust::load`] reading
//! the configuration and the key-set files it names.

mod config;
mod error;
mod trust;

pub use config::{Issuer, Options};
pub use error::TrustError;
pub use jsonwebtoken::jwk::{Jwk, JwkSet};
pub use trust::{Claims, Trust};
