//! Context values that Cedar's API builds by parsing: `RestrictedExpression::new_ip` and
//! `new_datetime` parse the extension's name (`ip`, `datetime`) on every call, which costs
//! more than the rest of a decision's context. Clients reuse their address and many
//! requests share a millisecond, so each thread keeps the last expression of each kind.

use std::cell::RefCell;
use std::net::IpAddr;

use cedar_policy::RestrictedExpression;
use chrono::{DateTime, SecondsFormat, Utc};

thread_local! {
    static LAST_IP: RefCell<Option<(IpAddr, RestrictedExpression)>> = const { RefCell::new(None) };
    static LAST_TIME: RefCell<Option<(i64, RestrictedExpression)>> = const { RefCell::new(None) };
}

/// `ip("…")` for this address.
pub fn ip_expression(ip: IpAddr) -> RestrictedExpression {
    LAST_IP.with_borrow_mut(|last| match last {
        Some((seen, expression)) if *seen == ip => expression.clone(),
        _ => {
            let expression = RestrictedExpression::new_ip(ip.to_string());
            *last = Some((ip, expression.clone()));
            expression
        }
    })
}

/// `datetime("…")` for this instant, to the millisecond.
pub fn datetime_expression(time: DateTime<Utc>) -> RestrictedExpression {
    let millis = time.timestamp_millis();
    LAST_TIME.with_borrow_mut(|last| match last {
        Some((seen, expression)) if *seen == millis => expression.clone(),
        _ => {
            let expression = RestrictedExpression::new_datetime(
                time.to_rfc3339_opts(SecondsFormat::Millis, true),
            );
            *last = Some((millis, expression.clone()));
            expression
        }
    })
}
