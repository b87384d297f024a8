//! The sign-in and sign-up limits hold under concurrency: simultaneous attempts are counted
//! before any password is checked, so no more than the limit are ever verified. The limits
//! are small here to keep the argon2 work small.

use std::sync::Arc;

use andi::account::settings::AccountSettings;
use andi::console::settings::ConsoleConfig;
use reqwest::StatusCode;
use tokio::sync::Barrier;

use crate::console::{PASSWORD, Person};
use crate::helpers::TestApp;

const SIMULTANEOUS: usize = 40;

/// Posts one sign-in per email, all at once, each from its own browser with its own form
/// token; the statuses, in no particular order.
async fn simultaneous_sign_ins(app: &TestApp, emails: &[String], password: &str) -> Vec<u16> {
    let mut prepared = Vec::with_capacity(emails.len());
    for email in emails {
        let person = Person::new(app);
        let token = person.token("/sign-in").await;
        prepared.push((person, token, email.clone()));
    }
    let barrier = Arc::new(Barrier::new(prepared.len()));
    let tasks: Vec<_> = prepared
        .into_iter()
        .map(|(person, token, email)| {
            let barrier = Arc::clone(&barrier);
            let password = password.to_owned();
            tokio::spawn(async move {
                barrier.wait().await;
                let fields = [
                    ("csrf", token.as_str()),
                    ("email", email.as_str()),
                    ("password", password.as_str()),
                ];
                person
                    .post_form("/sign-in", &fields)
                    .await
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::with_capacity(tasks.len());
    for task in tasks {
        statuses.push(task.await.expect("sign-in task"));
    }
    statuses
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test]
async fn simultaneous_wrong_passwords_for_one_account_are_verified_at_most_up_to_the_limit() {
    let account = AccountSettings {
        login_max_failures: 3,
        login_max_failures_per_ip: 1_000,
        ..AccountSettings::default()
    };
    let app = TestApp::builder()
        .console(ConsoleConfig {
            account,
            ..ConsoleConfig::default()
        })
        .spawn()
        .await;
    assert_eq!(
        Person::new(&app)
            .sign_up("ada@example.com", PASSWORD)
            .await
            .status(),
        303
    );

    let emails = vec!["ada@example.com".to_owned(); SIMULTANEOUS];
    let statuses = simultaneous_sign_ins(&app, &emails, "guess number one").await;

    let wrong = count(&statuses, 401);
    let limited = count(&statuses, 429);
    eprintln!("lockout, one account: {wrong} answered as a wrong password, {limited} with 429");
    assert!(
        wrong <= 3,
        "at most the limit are verified, got {wrong}: {statuses:?}"
    );
    assert_eq!(wrong + limited, SIMULTANEOUS, "every other one is 429");
    let after = Person::new(&app).sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(
        after.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the right password waits out the lock"
    );
    assert!(after.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn simultaneous_wrong_passwords_from_one_address_are_verified_at_most_up_to_its_limit() {
    let account = AccountSettings {
        login_max_failures: 1_000,
        login_max_failures_per_ip: 4,
        ..AccountSettings::default()
    };
    let app = TestApp::builder()
        .console(ConsoleConfig {
            account,
            ..ConsoleConfig::default()
        })
        .spawn()
        .await;
    assert_eq!(
        Person::new(&app)
            .sign_up("ada@example.com", PASSWORD)
            .await
            .status(),
        303
    );

    let emails: Vec<String> = (0..SIMULTANEOUS)
        .map(|n| format!("user{n}@example.com"))
        .collect();
    let statuses = simultaneous_sign_ins(&app, &emails, "guess number one").await;

    let wrong = count(&statuses, 401);
    let limited = count(&statuses, 429);
    eprintln!("lockout, one address: {wrong} answered as a wrong password, {limited} with 429");
    assert!(
        wrong <= 4,
        "at most the address's limit are verified, got {wrong}: {statuses:?}"
    );
    assert_eq!(wrong + limited, SIMULTANEOUS, "every other one is 429");
    let after = Person::new(&app).sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(
        after.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a right password from the same address waits too"
    );
}

#[tokio::test]
async fn sign_ups_from_one_address_past_the_limit_are_refused_with_a_429() {
    let account = AccountSettings {
        signup_max_per_ip: 3,
        ..AccountSettings::default()
    };
    let app = TestApp::builder()
        .console(ConsoleConfig {
            account,
            ..ConsoleConfig::default()
        })
        .spawn()
        .await;
    for n in 0..3 {
        let response = Person::new(&app)
            .sign_up(&format!("user{n}@example.com"), PASSWORD)
            .await;
        assert_eq!(response.status(), 303, "sign-up {n} is within the limit");
    }

    let refused = Person::new(&app)
        .sign_up("user3@example.com", PASSWORD)
        .await;

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("Too many sign-ups from your network address; try again in 15 minute(s)."),
        "{page}"
    );
    assert_eq!(
        Person::new(&app)
            .sign_in("user3@example.com", PASSWORD)
            .await
            .status(),
        401,
        "the refused sign-up created no account"
    );
}
