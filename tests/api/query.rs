use andi::http::limits::Limits;
use serde_json::{Value, json};

use crate::helpers::assert_problem;
use crate::object_support::{Setup, ids, invoices, issue_paths, setup};

/// Five invoices with a spread of values, missing ones included.
async fn dataset() -> Setup {
    let s = setup().await;
    invoices(&s).await;
    s.upsert(
        "invoices",
        json!({"records": [
            {"id": "r1", "name": "Alpha", "attributes": {"number": "A-1", "amount": 10, "lines": 1, "paid": true,
                "issuedAt": "2026-01-01T00:00:00Z", "dueOn": "2026-02-01", "contact": "Ann@Acme.io",
                "status": "open", "tags": ["vip"], "customer": "cus_1", "memo": "Rush order"}},
            {"id": "r2", "name": "Beta", "attributes": {"number": "A-2", "amount": 20.5, "lines": 2, "paid": false,
                "issuedAt": "2026-02-01T00:00:00Z", "dueOn": "2026-03-01", "status": "paid", "tags": ["eu", "late"],
                "memo": "normal"}},
            {"id": "r3", "attributes": {"number": "B-3", "amount": 30, "lines": 3, "paid": false,
                "issuedAt": "2026-03-01T12:00:00+02:00", "status": "open", "tags": []}},
            {"id": "r4", "name": "Delta", "attributes": {"number": "B-4", "lines": 4, "status": "paid", "tags": ["eu"],
                "extra": {"k": 1}}},
            {"id": "r5", "name": "Gamma", "attributes": {"number": "C_5%", "amount": -5, "lines": 5, "paid": true}}
        ]}),
    )
    .await;
    s
}

#[tokio::test]
async fn every_operator_filters_by_the_attribute_type_in_a_post_body() {
    let s = dataset().await;
    let cases = [
        (json!({"number": {"eq": "A-2"}}), vec!["r2"]),
        (
            json!({"number": {"ne": "A-2"}}),
            vec!["r1", "r3", "r4", "r5"],
        ),
        (json!({"amount": {"gt": 10}}), vec!["r2", "r3"]),
        (json!({"amount": {"gte": 10}}), vec!["r1", "r2", "r3"]),
        (json!({"amount": {"lt": 10}}), vec!["r5"]),
        (json!({"amount": {"lte": 20.5}}), vec!["r1", "r2", "r5"]),
        (json!({"amount": {"ne": 10}}), vec!["r2", "r3", "r4", "r5"]),
        (json!({"amount": {"gt": 0, "lt": 25}}), vec!["r1", "r2"]),
        (json!({"amount": {"exists": false}}), vec!["r4"]),
        (json!({"lines": {"in": [1, 3]}}), vec!["r1", "r3"]),
        (json!({"lines": {"lt": 2.5}}), vec!["r1", "r2"]),
        (json!({"paid": {"eq": true}}), vec!["r1", "r5"]),
        (json!({"paid": {"ne": true}}), vec!["r2", "r3", "r4"]),
        (json!({"paid": {"in": [false]}}), vec!["r2", "r3"]),
        (
            json!({"issuedAt": {"gt": "2026-01-15T00:00:00Z"}}),
            vec!["r2", "r3"],
        ),
        (
            json!({"issuedAt": {"lt": "2026-03-01T11:00:00Z"}}),
            vec!["r1", "r2", "r3"],
        ),
        (
            json!({"issuedAt": {"eq": "2026-03-01T10:00:00Z"}}),
            vec!["r3"],
        ),
        (json!({"dueOn": {"lte": "2026-02-01"}}), vec!["r1"]),
        (json!({"contact": {"contains": "ann@ACME"}}), vec!["r1"]),
        (json!({"memo": {"contains": "RUSH"}}), vec!["r1"]),
        (json!({"number": {"contains": "%"}}), vec!["r5"]),
        (json!({"number": {"contains": "_"}}), vec!["r5"]),
        (json!({"status": {"in": ["paid"]}}), vec!["r2", "r4"]),
        (json!({"tags": {"contains": "eu"}}), vec!["r2", "r4"]),
        (json!({"tags": {"in": ["vip", "late"]}}), vec!["r1", "r2"]),
        (json!({"tags": {"exists": false}}), vec!["r5"]),
        (json!({"customer": {"eq": "cus_1"}}), vec!["r1"]),
        (json!({"extra": {"exists": true}}), vec!["r4"]),
        (json!({"name": {"contains": "ALPHA"}}), vec!["r1"]),
        (json!({"name": {"exists": false}}), vec!["r3"]),
        (json!({"id": {"in": ["r1", "r5"]}}), vec!["r1", "r5"]),
        (json!({"id": {"gte": "r4"}}), vec!["r4", "r5"]),
        (
            json!({"createdAt": {"lte": "2999-01-01T00:00:00Z"}}),
            vec!["r1", "r2", "r3", "r4", "r5"],
        ),
        (json!({"updatedAt": {"lt": "2000-01-01T00:00:00Z"}}), vec![]),
        (
            json!({"status": {"eq": "open"}, "amount": {"gte": 20}}),
            vec!["r3"],
        ),
    ];
    for (filter, expected) in cases {
        let page = s.query("invoices", json!({"where": filter})).await;
        assert_eq!(ids(&page), expected, "where {filter}");
    }
}

#[tokio::test]
async fn get_parameters_express_the_same_filters() {
    let s = dataset().await;
    let cases = [
        ("filter=amount:gt:10&filter=status:eq:open", vec!["r3"]),
        ("filter=lines:in:1,3", vec!["r1", "r3"]),
        ("filter=issuedAt:gte:2026-02-01T00:00:00Z", vec!["r2", "r3"]),
        ("filter=tags:contains:eu", vec!["r2", "r4"]),
        ("filter=paid:eq:false", vec!["r2", "r3"]),
        (
            "filter=amount:exists:true&sort=-amount",
            vec!["r3", "r2", "r1", "r5"],
        ),
        ("filter=number:contains:a-", vec!["r1", "r2"]),
        ("filter=id:ne:r1&limit=2", vec!["r2", "r3"]),
    ];
    for (params, expected) in cases {
        let page = s.query_get("invoices", params).await;
        assert_eq!(ids(&page), expected, "{params}");
    }
}

#[tokio::test]
async fn sort_orders_by_any_field_with_missing_values_last() {
    let s = dataset().await;
    let cases = [
        (json!(["-amount"]), vec!["r3", "r2", "r1", "r5", "r4"]),
        (json!(["amount"]), vec!["r5", "r1", "r2", "r3", "r4"]),
        (json!(["-issuedAt"]), vec!["r3", "r2", "r1", "r4", "r5"]),
        (
            json!(["paid", "-lines"]),
            vec!["r3", "r2", "r5", "r1", "r4"],
        ),
        (json!(["name"]), vec!["r1", "r2", "r4", "r5", "r3"]),
        (json!(["-id"]), vec!["r5", "r4", "r3", "r2", "r1"]),
        (
            json!(["status", "-createdAt", "id"]),
            vec!["r1", "r3", "r2", "r4", "r5"],
        ),
    ];
    for (sort, expected) in cases {
        let page = s.query("invoices", json!({"sort": sort})).await;
        assert_eq!(ids(&page), expected, "sort {sort}");
    }
}

#[tokio::test]
async fn bad_queries_are_400_never_an_empty_result() {
    let s = dataset().await;
    let bodies = [
        (
            json!({"where": {"colour": {"eq": "red"}}}),
            json!(["where", "colour", "eq"]),
        ),
        (
            json!({"where": {"amount": {"gt": "10"}}}),
            json!(["where", "amount", "gt"]),
        ),
        (
            json!({"where": {"amount": {"like": 1}}}),
            json!(["where", "amount", "like"]),
        ),
        (
            json!({"where": {"amount": {"contains": "1"}}}),
            json!(["where", "amount", "contains"]),
        ),
        (
            json!({"where": {"status": {"eq": "lost"}}}),
            json!(["where", "status", "eq"]),
        ),
        (
            json!({"where": {"tags": {"eq": "eu"}}}),
            json!(["where", "tags", "eq"]),
        ),
        (
            json!({"where": {"issuedAt": {"gt": "soon"}}}),
            json!(["where", "issuedAt", "gt"]),
        ),
        (
            json!({"where": {"paid": {"gt": true}}}),
            json!(["where", "paid", "gt"]),
        ),
        (
            json!({"where": {"lines": {"in": 3}}}),
            json!(["where", "lines", "in"]),
        ),
        (
            json!({"where": {"extra": {"eq": 1}}}),
            json!(["where", "extra", "eq"]),
        ),
        (json!({"where": {"amount": 3}}), json!(["where", "amount"])),
        (json!({"sort": ["tags"]}), json!(["sort", 0])),
        (json!({"sort": ["nope"]}), json!(["sort", 0])),
        (json!({"limit": 0}), json!(["limit"])),
        (json!({"limit": 1001}), json!(["limit"])),
        (json!({"cursor": "garbage"}), json!(["cursor"])),
        (json!({"page": 2}), json!(["page"])),
    ];
    for (body, path) in bodies {
        let response = s
            .app
            .post_json("/api/objects/invoices/query", &s.key, &body)
            .await;
        let problem = assert_problem(response, 400, "validation_failed", &body.to_string()).await;
        assert_eq!(issue_paths(&problem), vec![path], "{body}");
    }
    for params in [
        "filter=amount:gt:abc",
        "filter=amount",
        "filter=nope:eq:1",
        "limit=x",
        "offset=3",
        "filter=paid:eq:yes",
    ] {
        let response = s
            .app
            .get(&format!("/api/objects/invoices/query?{params}"), &s.key)
            .await;
        assert_problem(response, 400, "validation_failed", params).await;
    }
}

#[tokio::test]
async fn a_cursor_from_another_sort_is_refused() {
    let s = dataset().await;
    let page = s
        .query("invoices", json!({"limit": 2, "sort": ["amount"]}))
        .await;
    let cursor = page["nextCursor"].as_str().unwrap();
    let response = s
        .app
        .post_json(
            "/api/objects/invoices/query",
            &s.key,
            &json!({"limit": 2, "sort": ["-amount"], "cursor": cursor}),
        )
        .await;
    let problem = assert_problem(response, 400, "validation_failed", "other sort").await;
    assert_eq!(issue_paths(&problem), vec![json!(["cursor"])]);
}

/// Follows `nextCursor` from the first page to the last, calling `between` after each page.
async fn walk(s: &Setup, query: Value, mut between: impl AsyncFnMut(usize)) -> Vec<String> {
    let mut seen = Vec::new();
    let mut body = query.clone();
    for page_number in 0.. {
        let page = s.query("items", body.clone()).await;
        seen.extend(ids(&page));
        between(page_number).await;
        match page["nextCursor"].as_str() {
            Some(cursor) => body["cursor"] = json!(cursor),
            None => break,
        }
    }
    seen
}

#[tokio::test]
async fn cursor_pages_cover_every_record_once_while_records_are_inserted() {
    let s = setup().await;
    s.define(json!({"name": "Items", "attributes": {"amount": {"type": "integer"}}}))
        .await;
    let records: Vec<Value> = (0..23)
        .map(|i| {
            if i % 5 == 0 {
                json!({"id": format!("i{i:02}")})
            } else {
                json!({"id": format!("i{i:02}"), "attributes": {"amount": i % 7}})
            }
        })
        .collect();
    s.upsert("items", json!({"records": records})).await;

    for sort in [
        json!([]),
        json!(["amount"]),
        json!(["-amount"]),
        json!(["-createdAt", "-id"]),
    ] {
        let query = json!({"limit": 4, "sort": sort});
        let whole = s.query("items", json!({"limit": 1000, "sort": sort})).await;
        let expected = ids(&whole);
        let mut inserted = 0;
        let seen = walk(&s, query, async |page| {
            // New records land before, among and after the pages already read.
            let batch: Vec<Value> = (0..3)
                .map(|k| {
                    inserted += 1;
                    json!({"id": format!("new{page}-{k}-{inserted}"), "attributes": {"amount": (k as i64) * 3 - 1}})
                })
                .collect();
            s.upsert("items", json!({"records": batch})).await;
        })
        .await;
        let originals: Vec<String> = seen
            .iter()
            .filter(|id| id.starts_with('i'))
            .cloned()
            .collect();
        assert_eq!(
            originals, expected,
            "sort {sort}: every original record once, in order"
        );
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "sort {sort}: no record twice");
        s.app
            .post_json(
                "/api/objects/items/data/delete-many",
                &s.key,
                &json!({"ids": seen.iter().filter(|id| id.starts_with("new")).collect::<Vec<_>>()}),
            )
            .await;
        let deleted_new: Vec<String> = s
            .all_ids("items")
            .await
            .into_iter()
            .filter(|id| id.starts_with("new"))
            .collect();
        let remaining_new = deleted_new.len();
        if remaining_new > 0 {
            s.app
                .post_json(
                    "/api/objects/items/data/delete-many",
                    &s.key,
                    &json!({"ids": deleted_new}),
                )
                .await;
        }
    }
}

#[tokio::test]
async fn the_page_size_is_limited_by_configuration() {
    let app = crate::helpers::TestApp::builder()
        .limits(Limits {
            max_page_size: 3,
            ..Limits::default()
        })
        .spawn()
        .await;
    let workspace = app.create_workspace("acme").await;
    let (key, _) = app
        .create_key(&workspace, Some(andi::keys::grant::Role::Admin), &[])
        .await;
    app.post_json("/api/objects", &key, &json!({"name": "Items"}))
        .await;
    let response = app.get("/api/objects/items/query?limit=4", &key).await;
    let problem =
        assert_problem(response, 400, "validation_failed", "limit over the maximum").await;
    assert!(
        problem["issues"][0]["message"]
            .as_str()
            .unwrap()
            .contains("1 to 3"),
        "{problem}"
    );
    assert_eq!(
        app.get("/api/objects/items/query?limit=3", &key)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn queries_past_their_size_limits_are_refused_and_at_them_answered() {
    let s = dataset().await;
    let limits = Limits::default();

    let filters = |n: usize| {
        (0..n)
            .map(|i| format!("filter=number:ne:X-{i}"))
            .collect::<Vec<_>>()
            .join("&")
    };
    let at_limit = s
        .query_get("invoices", &filters(limits.max_query_filters))
        .await;
    assert_eq!(at_limit["items"].as_array().unwrap().len(), 5, "{at_limit}");
    for n in [limits.max_query_filters + 1, 999] {
        let response = s
            .app
            .get(
                &format!("/api/objects/invoices/query?{}", filters(n)),
                &s.key,
            )
            .await;
        let body =
            assert_problem(response, 400, "validation_failed", &format!("{n} filters")).await;
        assert!(
            body["issues"][0]["message"]
                .as_str()
                .unwrap()
                .contains("at most"),
            "{body}"
        );
    }

    let values = |n: usize| (0..n).map(|i| json!(format!("X-{i}"))).collect::<Vec<_>>();
    let at_limit = s
        .query(
            "invoices",
            json!({"where": {"number": {"in": values(limits.max_query_in_values)}}}),
        )
        .await;
    assert_eq!(at_limit["items"], json!([]), "{at_limit}");
    let response = s
        .app
        .post_json(
            "/api/objects/invoices/query",
            &s.key,
            &json!({"where": {"number": {"in": values(limits.max_query_in_values + 1)}}}),
        )
        .await;
    assert_problem(
        response,
        400,
        "validation_failed",
        "one value past the in limit",
    )
    .await;

    let sorts = (0..=limits.max_query_sort_keys)
        .map(|i| if i % 2 == 0 { "number" } else { "-number" })
        .collect::<Vec<_>>()
        .join(",");
    let response = s
        .app
        .get(&format!("/api/objects/invoices/query?sort={sorts}"), &s.key)
        .await;
    assert_problem(response, 400, "validation_failed", "too many sort keys").await;
}
