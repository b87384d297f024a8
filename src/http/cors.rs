//! Cross-origin requests (`ANDI_CORS_ORIGINS`): off unless origins are listed, so no page on
//! another site can read an answer; for each listed origin, browsers may call the API with
//! a key in a header. Credentials (cookies) are never allowed cross-origin, so the console's
//! session cannot be used from another site.

use std::str::FromStr;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::request_id;

/// How long a browser may cache a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The origins (`https://app.example.com`, comma-separated) allowed to call the API from a
/// browser. Empty by default: CORS is off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOrigins(Vec<HeaderValue>);

impl FromStr for CorsOrigins {
    type Err = String;

    fn from_str(list: &str) -> Result<CorsOrigins, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(parse_origin)
            .collect::<Result<_, _>>()
            .map(CorsOrigins)
    }
}

/// An origin as browsers send it: scheme, host and port if not the default, nothing else.
fn parse_origin(entry: &str) -> Result<HeaderValue, String> {
    let wrong = || {
        format!("`{entry}` is not an origin; give scheme and host, like https://app.example.com")
    };
    let url = url::Url::parse(entry).map_err(|_| wrong())?;
    let origin = url.origin().ascii_serialization();
    if !matches!(url.scheme(), "http" | "https") || origin != entry.trim_end_matches('/') {
        return Err(wrong());
    }
    HeaderValue::from_str(&origin).map_err(|_| wrong())
}

impl CorsOrigins {
    /// The layer answering preflights and marking answers for the listed origins; `None`
    /// when none are listed.
    pub fn layer(&self) -> Option<CorsLayer> {
        if self.0.is_empty() {
            return None;
        }
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(self.0.iter().cloned()))
                .allow_methods([
                    Method::GET,
                    Method::HEAD,
                    Method::POST,
                    Method::PATCH,
                    Method::DELETE,
                ])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    HeaderName::from_static("x-api-key"),
                    HeaderName::from_static(request_id::HEADER),
                    HeaderName::from_static("traceparent"),
                    HeaderName::from_static("tracestate"),
                ])
                .expose_headers([
                    HeaderName::from_static(request_id::HEADER),
                    header::LOCATION,
                    header::RETRY_AFTER,
                    header::WWW_AUTHENTICATE,
                ])
                .max_age(PREFLIGHT_MAX_AGE),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_and_host_and_anything_else_is_named() {
        let origins: CorsOrigins = "https://app.example.com, http://localhost:3000"
            .parse()
            .unwrap();
        assert_eq!(origins.0.len(), 2);
        assert_eq!(CorsOrigins::from_str("").unwrap(), CorsOrigins::default());
        for bad in [
            "app.example.com",
            "https://app.example.com/path",
            "*",
            "ftp://x.org",
        ] {
            let error = bad.parse::<CorsOrigins>().unwrap_err();
            assert!(error.contains(&format!("`{bad}`")), "{bad}: {error}");
        }
    }
}
