//! Failed authentications are limited per client address: past the limit an address is
//! answered 429 with `Retry-After` before any key is looked up, while other addresses keep
//! being served.

use std::net::{IpAddr, Ipv4Addr};

use andi::http::limits::Limits;
use andi::keys::grant::Permission;
use andi::keys::secret::{Environment, KeySecret};

use crate::helpers::{TestApp, assert_problem};

const LIMIT: u64 = 3;

fn client_from(address: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(address))
        .build()
        .expect("a client")
}

#[tokio::test]
async fn an_address_that_keeps_failing_is_refused_and_others_are_served() {
    let app = TestApp::builder()
        .limits(Limits {
            max_auth_failures_per_ip: LIMIT,
            ..Limits::default()
        })
        .spawn()
        .await;
    let acme = app.create_workspace("acme").await;
    let (valid, _) = app
        .create_key(&acme, None, &[Permission::ObjectsRead])
        .await;
    let attacker = client_from(Ipv4Addr::new(127, 0, 0, 1));
    let bystander = client_from(Ipv4Addr::new(127, 0, 0, 2));

    for n in 0..LIMIT {
        // Well formed, so each one costs a lookup.
        let unknown = KeySecret::generate(Environment::Live);
        let response = attacker
            .get(app.url("/api/objects"))
            .bearer_auth(unknown.expose())
            .send()
            .await
            .unwrap();
        assert_problem(response, 401, "unknown_key", &format!("failure {n}")).await;
    }
    let refused = attacker
        .get(app.url("/api/objects"))
        .bearer_auth(&valid)
        .send()
        .await
        .unwrap();
    let retry_after: u64 = refused
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_problem(
        refused,
        429,
        "too_many_requests",
        "past the limit, even a valid key",
    )
    .await;

    let served = bystander
        .get(app.url("/api/objects"))
        .bearer_auth(&valid)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200, "another address is served");
}
