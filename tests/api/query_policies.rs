//! The oracle of queries filtered by the policies (issue 12): walking every page of a query
//! by cursor returns, in the query's order, exactly the records that single-record
//! `getRecord` decisions let the key read, among those the query's filters match.
//!
//! Each case generates record-level policies (permit and forbid, with and without `unless`,
//! over record attributes, the key's metadata and the record's creator, some with no SQL
//! form), records written by several keys, and queries (filters, sorts, page sizes 1 to 7,
//! GET and POST). The expected order comes from an admin's single-page answer to the same
//! query: the generated policies never restrict admins, so that answer is the query without
//! any policy filter. A failing case prints its seed: `ANDI_PROPTEST_SEED=<seed>
//! ANDI_PROPTEST_CASES=1` replays it alone; `ANDI_PROPTEST_CASES` alone runs more cases.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use andi::authz::load;
use andi::keys::grant::{Permission, Role};
use andi::keys::secret::Environment;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use crate::helpers::TestApp;
use crate::policy_files::copy_of_shipped_policies;

/// Policy sets one run generates, unless `ANDI_PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u64 = 6;
const RECORDS: usize = 30;
const QUERIES_PER_CASE: usize = 3;
const QUERY: &str = "/api/objects/customers/query";

/// The record attributes the generated policies read, declared in place of `confidential`.
const DECLARED: &str = "confidential?: Bool,
    amount?: decimal,
    score?: Long,
    tags?: Set<String>,
    dueAt?: datetime,
    title?: String,";

/// The scoped key holds no `objects.read`, so only the generated permits let it read records.
const SCOPED_KEY_QUERIES: &str = r#"// The scoped key may query; the generated permits decide which records it reads.
@id("scoped-key-queries")
permit (
  principal is Andi::ApiKey,
  action == Andi::Action::"queryRecords",
  resource is Andi::ObjectDefinition
)
when { principal.hasTag("scope") };
"#;

const REGIONS: [&str; 3] = ["EU", "US", "APAC"];
const TAGS: [&str; 3] = ["vip", "eu", "late"];
const TITLES: [&str; 9] = [
    "abc",
    "Abba",
    "crab cake",
    "hello",
    "zebra",
    "tab",
    "Zed",
    "a_b",
    "50% off",
];
const NAMES: [&str; 5] = ["Alpha", "beta", "Gamma", "delta", "alpha"];
/// `_` and `%` are literal characters in Cedar's `like`, unlike SQL's.
const LIKE_PATTERNS: [&str; 7] = ["*ab*", "A*", "*e", "crab*", "a_*", "*%*", "*b?"];

fn pick<T: Copy>(g: &mut StdRng, items: &[T]) -> T {
    items[g.random_range(0..items.len())]
}

/// A well-typed Cedar condition: every attribute read sits behind its `has` guard in the
/// same conjunction, and every `getTag` behind its `hasTag`, as strict validation asks.
fn condition(g: &mut StdRng, depth: u32) -> String {
    if depth == 0 || g.random_bool(0.4) {
        return atom(g);
    }
    match g.random_range(0..4) {
        0 => format!(
            "({} && {})",
            condition(g, depth - 1),
            condition(g, depth - 1)
        ),
        1 => format!(
            "({} || {})",
            condition(g, depth - 1),
            condition(g, depth - 1)
        ),
        2 => format!("!{}", condition(g, depth - 1)),
        _ => format!(
            "(if {} then {} else {})",
            condition(g, depth - 1),
            condition(g, depth - 1),
            condition(g, depth - 1)
        ),
    }
}

/// One comparison over the record, the key or both. The last six are shapes a SQL
/// translation may have no form for, so their rows are decided one by one: datetime
/// arithmetic, `like`, `containsAll`/`containsAny`, `isEmpty`, arithmetic that overflows
/// for some rows, and arithmetic.
fn atom(g: &mut StdRng) -> String {
    let kind = g.random_range(0..ATOMS);
    atom_of_kind(g, kind)
}

/// How many kinds of comparison [`atom_of_kind`] writes.
const ATOMS: usize = 20;

fn atom_of_kind(g: &mut StdRng, kind: usize) -> String {
    let region = pick(g, &REGIONS);
    let tag = pick(g, &TAGS);
    let amount = format!("{:.1}", f64::from(g.random_range(-8..40)) * 2.5);
    match kind {
        0 => format!(
            r#"(resource.attributes has region && resource.attributes.region == "{region}")"#
        ),
        1 => r#"(resource.attributes has region && principal.hasTag("region") && principal.getTag("region") == resource.attributes.region)"#.to_owned(),
        2 => "(resource.attributes has confidential && resource.attributes.confidential)".to_owned(),
        3 => format!(
            r#"(resource.attributes has amount && resource.attributes.amount.greaterThan(decimal("{amount}")))"#
        ),
        4 => format!(
            r#"(resource.attributes has amount && resource.attributes.amount.lessThanOrEqual(decimal("{amount}")))"#
        ),
        5 => format!(
            "(resource.attributes has score && resource.attributes.score >= {})",
            g.random_range(0..10)
        ),
        6 => format!(
            r#"(resource.attributes has tags && resource.attributes.tags.contains("{tag}"))"#
        ),
        7 => format!(
            r#"(resource.attributes has dueAt && resource.attributes.dueAt < datetime("2026-{:02}-15T00:00:00Z"))"#,
            g.random_range(1..=12)
        ),
        8 => "(resource has createdBy && resource.createdBy == principal)".to_owned(),
        9 => "(resource has updatedBy && resource.updatedBy == principal)".to_owned(),
        10 => format!("(resource.attributes has {})", pick(g, &["region", "amount", "tags", "title", "dueAt"])),
        11 => r#"principal.hasTag("team")"#.to_owned(),
        12 => r#"(principal.environment == "test")"#.to_owned(),
        13 => r#"(principal.hasTag("team") && resource.attributes has tags && resource.attributes.tags.contains(principal.getTag("team")))"#.to_owned(),
        14 => format!(
            r#"(resource.attributes has dueAt && resource.attributes.dueAt.durationSince(datetime("2026-06-01T00:00:00Z")) > duration("{}d"))"#,
            g.random_range(-150..150)
        ),
        15 => format!(
            r#"(resource.attributes has title && resource.attributes.title like "{}")"#,
            pick(g, &LIKE_PATTERNS)
        ),
        16 => format!(
            r#"(resource.attributes has tags && resource.attributes.tags.{}(["{tag}", "{}"]))"#,
            pick(g, &["containsAll", "containsAny"]),
            pick(g, &TAGS)
        ),
        17 => "(resource.attributes has tags && resource.attributes.tags.isEmpty())".to_owned(),
        // Overflows, an error that makes Cedar skip the policy, for every score but 0 and 1.
        18 => "(resource.attributes has score && resource.attributes.score * 4611686018427387904 > 0)"
            .to_owned(),
        _ => format!(
            "(resource.attributes has score && resource.attributes.score * 2 - 3 < {})",
            g.random_range(0..18)
        ),
    }
}

/// One record-level policy; the first of a set applies to any key. A forbid never applies
/// to an admin key, so an admin's answer to a query is the query without any policy filter.
fn policy(g: &mut StdRng, n: usize, effect: &str) -> String {
    let mut principal = pick(
        g,
        &[
            "principal",
            "principal is Andi::ApiKey",
            r#"principal in Andi::Role::"viewer""#,
            r#"principal in Andi::Role::"editor""#,
        ],
    );
    if n == 0 {
        principal = "principal";
    }
    let action = pick(
        g,
        &[
            r#"action == Andi::Action::"getRecord""#,
            r#"action in Andi::Action::"objects.read""#,
        ],
    );
    let mut text = format!(
        "// Generated policy {n}.\n@id(\"generated-{n}\")\n{effect} ({principal}, {action}, resource is Andi::Record)"
    );
    if g.random_bool(0.85) {
        write!(text, "\nwhen {{ {} }}", condition(g, 2)).unwrap();
    }
    if g.random_bool(0.4) {
        write!(text, "\nunless {{ {} }}", condition(g, 2)).unwrap();
    }
    if effect == "forbid" && !principal.contains("Role") {
        text.push_str("\nunless { principal in Andi::Role::\"admin\" }");
    }
    text.push_str(";\n");
    text
}

/// Two to five generated policies, the first a permit any key may match, after the fixed
/// permit that lets the scoped key query.
fn policy_set(g: &mut StdRng) -> String {
    let mut text = SCOPED_KEY_QUERIES.to_owned();
    for n in 0..g.random_range(2..=5) {
        let effect = if n == 0 || g.random_bool(0.3) {
            "permit"
        } else {
            "forbid"
        };
        text.push('\n');
        text.push_str(&policy(g, n, effect));
    }
    text
}

/// The shipped policies plus `policies`, with the attributes they read declared.
fn policy_dir_with(policies: &str) -> tempfile::TempDir {
    let dir = copy_of_shipped_policies();
    std::fs::write(dir.path().join("generated.cedar"), policies).unwrap();
    let schema_path = dir.path().join("schema.cedarschema");
    let schema = std::fs::read_to_string(&schema_path).unwrap();
    assert!(schema.contains("confidential?: Bool,"), "{schema}");
    std::fs::write(
        &schema_path,
        schema.replace("confidential?: Bool,", DECLARED),
    )
    .unwrap();
    dir
}

/// A generated set the server accepts. Strict validation refuses a policy that can never
/// apply (`when { resource.attributes has region } unless { resource.attributes has region }`),
/// so such a set is drawn again; any other refusal is a bug of the generator.
fn valid_policy_set(g: &mut StdRng) -> String {
    loop {
        let policies = policy_set(g);
        match load(policy_dir_with(&policies).path()) {
            Ok(_) => return policies,
            Err(errors) if errors.to_string().contains("policy is impossible") => continue,
            Err(errors) => panic!("a generated policy is refused: {errors}\n{policies}"),
        }
    }
}

/// Records `r00`, `r01`, … with every attribute missing now and then.
fn records(g: &mut StdRng, prefix: &str, range: std::ops::Range<usize>) -> Vec<Value> {
    range
        .map(|i| {
            let mut attributes = Map::new();
            let mut maybe = |g: &mut StdRng, key: &str, value: Value| {
                if g.random_bool(0.75) {
                    attributes.insert(key.to_owned(), value);
                }
            };
            let region = json!(pick(g, &REGIONS));
            maybe(g, "region", region);
            let confidential = json!(g.random_bool(0.4));
            maybe(g, "confidential", confidential);
            let amount = json!(f64::from(g.random_range(-8..40)) * 2.5);
            maybe(g, "amount", amount);
            let score = json!(g.random_range(0..10));
            maybe(g, "score", score);
            let tags: Vec<&str> = TAGS
                .iter()
                .copied()
                .filter(|_| g.random_bool(0.4))
                .collect();
            maybe(g, "tags", json!(tags));
            let due = format!(
                "2026-{:02}-{:02}T{:02}:00:00.000Z",
                g.random_range(1..=12),
                g.random_range(1..=28),
                g.random_range(0..24)
            );
            maybe(g, "dueAt", json!(due));
            let title = json!(pick(g, &TITLES));
            maybe(g, "title", title);
            let mut record = json!({"id": format!("{prefix}{i:02}"), "attributes": attributes});
            if g.random_bool(0.6) {
                record["name"] = json!(pick(g, &NAMES));
            }
            record
        })
        .collect()
}

/// A query: filters `(field, operator, value)` and sort fields (`-` for descending).
#[derive(Debug)]
struct Query {
    filters: Vec<(&'static str, &'static str, Value)>,
    sort: Vec<&'static str>,
}

impl Query {
    fn generate(g: &mut StdRng) -> Query {
        let mut filters: Vec<(&'static str, &'static str, Value)> = Vec::new();
        for _ in 0..g.random_range(0..=2) {
            let filter = match g.random_range(0..10) {
                0 => ("region", pick(g, &["eq", "ne"]), json!(pick(g, &REGIONS))),
                1 => (
                    "region",
                    "in",
                    json!([pick(g, &REGIONS), pick(g, &REGIONS)]),
                ),
                2 => (
                    "confidential",
                    pick(g, &["eq", "ne"]),
                    json!(g.random_bool(0.5)),
                ),
                3 => (
                    "amount",
                    pick(g, &["gt", "lte"]),
                    json!(f64::from(g.random_range(-8..40)) * 2.5),
                ),
                4 => (
                    "score",
                    pick(g, &["gte", "lt"]),
                    json!(g.random_range(0..10)),
                ),
                5 => ("tags", "contains", json!(pick(g, &TAGS))),
                6 => (
                    "title",
                    "contains",
                    json!(pick(g, &["ab", "E", "z", "_", "%"])),
                ),
                7 => (
                    "dueAt",
                    "lt",
                    json!(format!("2026-{:02}-01T00:00:00Z", g.random_range(1..=12))),
                ),
                8 => (
                    "name",
                    pick(g, &["contains", "gte"]),
                    json!(pick(g, &NAMES)),
                ),
                _ => (
                    pick(g, &["region", "amount", "tags", "dueAt", "title", "name"]),
                    "exists",
                    json!(g.random_bool(0.5)),
                ),
            };
            // The POST form keys a filter by field and operator.
            if !filters
                .iter()
                .any(|(f, o, _)| (*f, *o) == (filter.0, filter.1))
            {
                filters.push(filter);
            }
        }
        let sort = pick(
            g,
            &[
                &[][..],
                &["id"],
                &["-id"],
                &["region"],
                &["-region"],
                &["amount"],
                &["-amount"],
                &["score", "-id"],
                &["-dueAt"],
                &["title"],
                &["-name"],
                &["-createdAt"],
                &["confidential", "-score"],
                &["updatedAt"],
            ],
        );
        Query {
            filters,
            sort: sort.to_vec(),
        }
    }

    fn get_path(&self, limit: usize, cursor: Option<&str>) -> String {
        let mut params = form_urlencoded::Serializer::new(String::new());
        for (field, op, value) in &self.filters {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            params.append_pair("filter", &format!("{field}:{op}:{text}"));
        }
        if !self.sort.is_empty() {
            params.append_pair("sort", &self.sort.join(","));
        }
        params.append_pair("limit", &limit.to_string());
        if let Some(cursor) = cursor {
            params.append_pair("cursor", cursor);
        }
        format!("{QUERY}?{}", params.finish())
    }

    fn post_body(&self, limit: usize, cursor: Option<&str>) -> Value {
        let mut filters = Map::new();
        for (field, op, value) in &self.filters {
            let operators = filters.entry(*field).or_insert_with(|| json!({}));
            operators[*op] = value.clone();
        }
        let mut body = json!({"limit": limit});
        if !filters.is_empty() {
            body["where"] = Value::Object(filters);
        }
        if !self.sort.is_empty() {
            body["sort"] = json!(self.sort);
        }
        if let Some(cursor) = cursor {
            body["cursor"] = json!(cursor);
        }
        body
    }
}

#[derive(Clone, Copy, Debug)]
enum Form {
    Get,
    Post,
}

/// A server on the shipped policies plus `policies`, with a `customers` object and keys of
/// every kind the generated policies tell apart.
struct World {
    app: TestApp,
    admin: String,
    /// Keys that write records, so records have several creators.
    writers: Vec<String>,
    /// Keys whose walks are checked, each with a name for messages.
    readers: Vec<(&'static str, String)>,
    _policies: tempfile::TempDir,
}

impl World {
    async fn start(policies: &str) -> World {
        let dir = policy_dir_with(policies);
        let app = TestApp::builder().policies(dir.path()).spawn().await;
        let ws = app.create_workspace("acme").await;
        let live = Environment::Live;
        let admin = app
            .create_key_tagged(&ws, Some(Role::Admin), &[], live, &[])
            .await;
        let editor_eu = app
            .create_key_tagged(
                &ws,
                Some(Role::Editor),
                &[],
                live,
                &[("region", "EU"), ("team", "vip")],
            )
            .await;
        let editor_test = app
            .create_key_tagged(
                &ws,
                Some(Role::Editor),
                &[],
                Environment::Test,
                &[("region", "US")],
            )
            .await;
        let viewer_eu = app
            .create_key_tagged(&ws, Some(Role::Viewer), &[], live, &[("region", "EU")])
            .await;
        let viewer_us = app
            .create_key_tagged(
                &ws,
                Some(Role::Viewer),
                &[],
                live,
                &[("region", "US"), ("team", "late")],
            )
            .await;
        let viewer = app
            .create_key_tagged(&ws, Some(Role::Viewer), &[], live, &[])
            .await;
        let scoped = app
            .create_key_tagged(
                &ws,
                None,
                &[Permission::WorkspacesRead],
                live,
                &[("scope", "generated"), ("region", "APAC")],
            )
            .await;
        let created = app
            .post_json(
                "/api/objects",
                &admin,
                &json!({"name": "Customers", "attributes": {
                    "region": {"type": "select", "options": [{"value": "EU"}, {"value": "US"}, {"value": "APAC"}]},
                    "confidential": {"type": "boolean"},
                    "amount": {"type": "number"},
                    "score": {"type": "integer"},
                    "tags": {"type": "multiselect", "options": [{"value": "vip"}, {"value": "eu"}, {"value": "late"}]},
                    "dueAt": {"type": "datetime"},
                    "title": {"type": "string"},
                }}),
            )
            .await;
        assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
        World {
            app,
            admin: admin.clone(),
            writers: vec![admin, editor_eu.clone(), editor_test.clone()],
            readers: vec![
                ("editor with region=EU team=vip", editor_eu),
                ("test-environment editor with region=US", editor_test),
                ("viewer with region=EU", viewer_eu),
                ("viewer with region=US team=late", viewer_us),
                ("viewer without metadata", viewer),
                (
                    "key without objects.read, with scope and region=APAC",
                    scoped,
                ),
            ],
            _policies: dir,
        }
    }

    async fn upsert(&self, key: &str, records: &[Value]) {
        let response = self
            .app
            .post_json(
                "/api/objects/customers/data/upsert-many",
                key,
                &json!({ "records": records }),
            )
            .await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }

    /// Whether `getRecord` lets `key` read the record: 200, or a 404 or 403 that hides it.
    async fn reads(&self, key: &str, id: &str) -> bool {
        let response = self
            .app
            .get(&format!("/api/objects/customers/data/{id}"), key)
            .await;
        match response.status().as_u16() {
            200 => true,
            403 | 404 => false,
            other => panic!(
                "reading {id} answered {other}: {}",
                response.text().await.unwrap()
            ),
        }
    }

    /// The ids an admin gets for `query` in one page: the query's matches in its order.
    async fn admin_order(&self, query: &Query) -> Vec<String> {
        let response = self.app.get(&query.get_path(1000, None), &self.admin).await;
        assert_eq!(response.status(), 200, "{query:?}");
        let page: Value = response.json().await.unwrap();
        assert!(
            page["nextCursor"].is_null(),
            "one page holds every match: {page}"
        );
        ids_of(&page)
    }

    /// Every page of `query` by `key`, following `nextCursor` to the end; `between` runs
    /// after each page that has a next one.
    async fn walk(
        &self,
        key: &str,
        query: &Query,
        limit: usize,
        form: Form,
        mut between: impl AsyncFnMut(),
    ) -> Vec<String> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        // Every page but the last fills up or examines rows of its own, so a walk of more
        // pages than this is a cursor that does not move on.
        for _ in 0..1000 {
            let response = match form {
                Form::Get => {
                    let path = query.get_path(limit, cursor.as_deref());
                    self.app.get(&path, key).await
                }
                Form::Post => {
                    let body = query.post_body(limit, cursor.as_deref());
                    self.app.post_json(QUERY, key, &body).await
                }
            };
            let status = response.status();
            let page: Value = response.json().await.unwrap();
            assert_eq!(status, 200, "{query:?} by {limit} with {form:?}: {page}");
            let items = ids_of(&page);
            assert!(items.len() <= limit, "a page of {limit} held {items:?}");
            ids.extend(items);
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return ids,
            }
            between().await;
        }
        panic!("{query:?} by {limit} with {form:?}: the walk does not end");
    }
}

fn ids_of(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("a page has items: {page}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Prints what replays a case when it fails.
struct Replay {
    seed: u64,
    policies: String,
}

impl Drop for Replay {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "query_policies: the case of seed {seed} failed; replay it with \
                 ANDI_PROPTEST_SEED={seed} ANDI_PROPTEST_CASES=1. Its policies:\n{}",
                self.policies,
                seed = self.seed
            );
        }
    }
}

/// The first case's seed and how many cases to run.
fn settings() -> (u64, u64) {
    let seed = match std::env::var("ANDI_PROPTEST_SEED") {
        Ok(seed) => seed.parse().expect("ANDI_PROPTEST_SEED is a number"),
        Err(_) => rand::random(),
    };
    let cases = match std::env::var("ANDI_PROPTEST_CASES") {
        Ok(cases) => cases.parse().expect("ANDI_PROPTEST_CASES is a number"),
        Err(_) => DEFAULT_CASES,
    };
    (seed, cases)
}

/// How many records the checked walks showed and hid: a generator whose policies never hide
/// anything, or hide everything, would test nothing.
#[derive(Default)]
struct Tally {
    shown: usize,
    hidden: usize,
}

async fn run_case(seed: u64, tally: &mut Tally) {
    let g = &mut StdRng::seed_from_u64(seed);
    let policies = valid_policy_set(g);
    let _replay = Replay {
        seed,
        policies: policies.clone(),
    };
    let world = World::start(&policies).await;

    let all = records(g, "r", 0..RECORDS);
    for (batch, writer) in all.chunks(RECORDS / 3).zip(&world.writers) {
        world.upsert(writer, batch).await;
    }
    // Some records last changed by another key than their creator.
    for record in &all {
        if !g.random_bool(0.2) {
            continue;
        }
        let mut changed = record.clone();
        changed["attributes"]["title"] = json!(pick(g, &TITLES));
        let writer = pick(g, &[0, 1, 2]);
        world.upsert(&world.writers[writer], &[changed]).await;
    }
    let unfiltered = Query {
        filters: Vec::new(),
        sort: vec!["id"],
    };
    assert_eq!(
        world.admin_order(&unfiltered).await.len(),
        RECORDS,
        "the generated policies hide nothing from an admin"
    );

    let mut readable: HashMap<&str, HashSet<String>> = HashMap::new();
    for (name, key) in &world.readers {
        let mut set = HashSet::new();
        for record in &all {
            let id = record["id"].as_str().unwrap();
            if world.reads(key, id).await {
                set.insert(id.to_owned());
            }
        }
        readable.insert(name, set);
    }

    for _ in 0..QUERIES_PER_CASE {
        let query = Query::generate(g);
        let order = world.admin_order(&query).await;
        let (limit, form) = (g.random_range(1..=7), pick(g, &[Form::Get, Form::Post]));
        let admin_walk = world
            .walk(&world.admin, &query, limit, form, async || {})
            .await;
        assert_eq!(
            admin_walk, order,
            "an admin's pages of {query:?} by {limit} with {form:?}"
        );
        for (name, key) in &world.readers {
            let (limit, form) = (g.random_range(1..=7), pick(g, &[Form::Get, Form::Post]));
            let seen = world.walk(key, &query, limit, form, async || {}).await;
            let expected: Vec<String> = order
                .iter()
                .filter(|id| readable[name].contains(*id))
                .cloned()
                .collect();
            assert_eq!(
                seen, expected,
                "seed {seed}: the {name}'s pages of {query:?} by {limit} with {form:?} \
                 hold exactly the matches getRecord lets it read, in the query's order"
            );
            tally.shown += expected.len();
            tally.hidden += order.len() - expected.len();
        }
    }
    world.app.stop().await;
}

#[test]
fn every_kind_of_generated_comparison_passes_strict_validation() {
    let g = &mut StdRng::seed_from_u64(settings().0);
    for kind in 0..ATOMS {
        let policies = format!(
            "// Kind {kind}.\n@id(\"kind-{kind}\")\nforbid (principal, action, resource is Andi::Record)\nwhen {{ {} }};\n",
            atom_of_kind(g, kind)
        );
        if let Err(errors) = load(policy_dir_with(&policies).path()) {
            panic!("{policies}: {errors}");
        }
    }
}

#[tokio::test]
async fn every_page_of_a_query_holds_exactly_the_records_get_record_allows_in_order() {
    let (seed, cases) = settings();
    let mut tally = Tally::default();
    for case in 0..cases {
        run_case(seed.wrapping_add(case), &mut tally).await;
    }
    assert!(
        tally.shown > 0 && tally.hidden > 0,
        "seed {seed}: the generated policies both show and hide records ({} shown, {} hidden)",
        tally.shown,
        tally.hidden
    );
}

/// Viewers read only their region's records, and none titled like `*ab*` (a shape with no
/// SQL form).
const REGION_AND_TITLE: &str = r#"// Viewers read their own region's records only.
@id("viewers-own-region")
forbid (principal in Andi::Role::"viewer", action == Andi::Action::"getRecord", resource is Andi::Record)
unless { resource.attributes has region && principal.hasTag("region") && principal.getTag("region") == resource.attributes.region };

// Viewers never read drafts.
@id("viewers-no-drafts")
forbid (principal in Andi::Role::"viewer", action == Andi::Action::"getRecord", resource is Andi::Record)
when { resource.attributes has title && resource.attributes.title like "*ab*" };
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_inserted_during_a_walk_neither_repeat_nor_skip_one_that_existed_before() {
    let (seed, _) = settings();
    let g = &mut StdRng::seed_from_u64(seed);
    let _replay = Replay {
        seed,
        policies: REGION_AND_TITLE.to_owned(),
    };
    let world = World::start(REGION_AND_TITLE).await;
    world
        .upsert(&world.admin, &records(g, "r", 0..RECORDS))
        .await;
    let (viewer_name, viewer) = &world.readers[2];
    let inserted = Arc::new(AtomicUsize::new(0));
    let queries = [
        Query {
            filters: Vec::new(),
            sort: Vec::new(),
        },
        Query {
            filters: Vec::new(),
            sort: vec!["-amount"],
        },
        Query {
            filters: vec![("confidential", "ne", json!(true))],
            sort: vec!["title", "-id"],
        },
    ];
    for (round, (query, form)) in queries
        .iter()
        .zip([Form::Get, Form::Post, Form::Get])
        .enumerate()
    {
        let before = world.admin_order(query).await;
        let mut expected = Vec::new();
        for id in &before {
            if world.reads(viewer, id).await {
                expected.push(id.clone());
            }
        }

        // A writer inserting all through the walk, beside one insert between every two pages.
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (client, url, key) = (
                world.app.client.clone(),
                world.app.url("/api/objects/customers/data/upsert-many"),
                world.writers[1].clone(),
            );
            let (stop, inserted) = (Arc::clone(&stop), Arc::clone(&inserted));
            let mut g = StdRng::seed_from_u64(seed ^ 0x5eed);
            tokio::spawn(async move {
                // Bounded, so that a walk in creation order reaches the end.
                for batch in 0..20 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let records = records(&mut g, &format!("w{round}_{batch}_"), 0..2);
                    let response = client
                        .post(&url)
                        .bearer_auth(&key)
                        .json(&json!({ "records": records }))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200);
                    inserted.fetch_add(records.len(), Ordering::Relaxed);
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            })
        };
        let mut page = 0;
        let seen = world
            .walk(viewer, query, 1, form, async || {
                page += 1;
                let records = records(g, &format!("n{round}_{page}_"), 0..1);
                world.upsert(&world.writers[2], &records).await;
                inserted.fetch_add(1, Ordering::Relaxed);
            })
            .await;
        stop.store(true, Ordering::Relaxed);
        writer.await.unwrap();
        assert!(
            page > 0 || expected.len() <= 1,
            "records were inserted between pages"
        );

        let mut once = HashSet::new();
        for id in &seen {
            assert!(once.insert(id), "seed {seed}: {id} came twice in {seen:?}");
        }
        let pre_existing: HashSet<&String> = before.iter().collect();
        let seen_before: Vec<String> = seen
            .iter()
            .filter(|id| pre_existing.contains(id))
            .cloned()
            .collect();
        assert_eq!(
            seen_before, expected,
            "seed {seed}: the {viewer_name}'s walk of {query:?} holds every record it could \
             read before the walk, once and in order ({form:?})"
        );
        for id in seen.iter().filter(|id| !pre_existing.contains(id)) {
            assert!(
                world.reads(viewer, id).await,
                "seed {seed}: {id}, inserted during the walk, is readable by the {viewer_name}"
            );
        }
    }
    assert!(inserted.load(Ordering::Relaxed) > 0);
    world.app.stop().await;
}
