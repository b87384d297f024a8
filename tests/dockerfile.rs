//! The container image can create its default SQLite database: the Dockerfile's final stage
//! runs as `andi`, defaults `DATABASE_URL` to a SQLite file, and creates that file's
//! directory owned by `andi` before switching to it (SQLite writes the file and its WAL
//! companions there). Read from the Dockerfile itself, as no image is built in the tests.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test: a failure is a panic"
)]

use std::path::Path;

/// The instructions of the last stage, with continuation lines joined.
fn final_stage() -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile"))
        .expect("the Dockerfile is readable");
    let mut instructions: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                instructions.push(std::mem::take(&mut current));
            }
        }
    }
    let last_from = instructions
        .iter()
        .rposition(|i| i.starts_with("FROM "))
        .expect("a FROM");
    instructions.split_off(last_from)
}

#[test]
fn the_image_user_owns_the_directory_of_the_default_sqlite_file() {
    let stage = final_stage();
    let user_at = stage
        .iter()
        .position(|i| i == "USER andi")
        .expect("the image runs as andi");
    let url = stage
        .iter()
        .filter(|i| i.starts_with("ENV "))
        .flat_map(|i| i.split_whitespace())
        .find_map(|pair| pair.strip_prefix("DATABASE_URL="))
        .expect("the image sets a default DATABASE_URL");
    let file = url
        .strip_prefix("sqlite://")
        .and_then(|rest| rest.split('?').next())
        .expect("a sqlite:// URL");
    assert!(
        url.contains("mode=rwc"),
        "{url}: the file is created if missing"
    );
    let directory = Path::new(file).parent().unwrap().to_str().unwrap();
    assert!(directory.starts_with('/'), "{file} is an absolute path");
    let owned = stage[..user_at].iter().any(|i| {
        i.starts_with("RUN ")
            && i.split("&&").any(|command| {
                let words: Vec<&str> = command.split_whitespace().collect();
                words.contains(&directory)
                    && ((words.starts_with(&["install", "-d"])
                        && words.windows(2).any(|w| w == ["-o", "andi"]))
                        || (words.first() == Some(&"chown")
                            && words.iter().any(|w| w.starts_with("andi"))))
            })
    });
    assert!(
        owned,
        "{directory} is created owned by andi before `USER andi`: {stage:#?}"
    );
    assert!(
        stage.iter().any(|i| i == &format!("VOLUME {directory}")),
        "{directory} is a volume, so the data outlives the container"
    );
}
