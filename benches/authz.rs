//! One Cedar decision through `andi::authz::evaluate`, the call every request makes.
//!
//! Evaluated decisions (a key reading an object definition, with the key's entities already
//! built): with the shipped policies, with 1,000 extra policies for other actions, and with
//! 1,000 extra policies pinned to other keys (`principal == …`); the scope index should keep
//! the last two within about twice the first. Then a record (its entities are added per
//! request), a decision on the key's own workspace (as `GET /api/objects` asks; remembered
//! per key and action when no applicable policy reads the context; evaluated when one
//! does), and a key's first decision, which also builds the key's entities.
//!
//! Beside each case, in the same run, Cedar's own `Authorizer::is_authorized` on the same
//! request with the whole policy set (no scope index) and entities built beforehand (the
//! full graph: every action, role and permission, the key, its workspace and the resource),
//! the request and its full context built beforehand too: what Andi adds around Cedar,
//! entity building included, against Cedar alone. The two are timed in alternating samples
//! and their medians printed as a table at the end, so a busy machine slows both alike.
//!
//! `cargo bench --bench authz -- --measurement-time 3`

#![expect(
    clippy::expect_used,
    reason = "a benchmark stops at its first broken assumption"
)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use andi::authz::{Action, PolicyBundle, RecordData, RequestContext, Resource, evaluate, load};
use andi::keys::grant::Role;
use andi::keys::secret::Environment;
use andi::principal::{KeyPrincipal, Principal, WorkspaceRef};
use cedar_policy::{Authorizer, Context, Entities, EntityUid, PolicySet, Request};
use chrono::Utc;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::json;

fn shipped() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// The shipped policy directory plus one file of `extra` policies.
fn bundle_with_extra(extra: &str) -> (PolicyBundle, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    for entry in std::fs::read_dir(shipped()).expect("policies are readable") {
        let path = entry.expect("directory entry").path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().expect("file name")))
                .expect("copy a policy file");
        }
    }
    std::fs::write(dir.path().join("extra.cedar"), extra).expect("write extra policies");
    (load(dir.path()).expect("the policies load"), dir)
}

fn key(id: &str) -> KeyPrincipal {
    KeyPrincipal {
        key_id: id.to_owned(),
        workspace: WorkspaceRef {
            id: "ws_bench".to_owned(),
            handle: "bench".to_owned(),
        },
        role: Some(Role::Viewer),
        permissions: vec![],
        environment: Environment::Live,
        metadata: Default::default(),
        objects: None,
    }
}

fn context() -> RequestContext {
    RequestContext {
        ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        time: Utc::now(),
        method: "GET".to_owned(),
        path: "/api/objects/invoices".to_owned(),
    }
}

fn object() -> Resource {
    Resource::ObjectDefinition {
        id: "obj_bench".to_owned(),
        handle: "invoices".to_owned(),
        workspace_id: "ws_bench".to_owned(),
        attribute_keys: None,
    }
}

/// One request as Cedar alone answers it: everything built beforehand.
struct CedarAlone<'a> {
    policies: &'a PolicySet,
    request: Request,
    entities: Entities,
}

impl CedarAlone<'_> {
    fn decide(&self) -> bool {
        Authorizer::new()
            .is_authorized(&self.request, self.policies, &self.entities)
            .decision()
            == cedar_policy::Decision::Allow
    }
}

fn uid(type_name: &str, id: &str) -> serde_json::Value {
    json!({"type": format!("Andi::{type_name}"), "id": id})
}

/// The entities of `resource` in Cedar's JSON form, for the cases benchmarked here.
fn resource_json(resource: &Resource) -> Vec<serde_json::Value> {
    let workspace = uid("Workspace", "ws_bench");
    let object = |id: &str, handle: &str| {
        json!({"uid": uid("ObjectDefinition", id), "parents": [workspace],
               "attrs": {"workspace": {"__entity": workspace}, "handle": handle}})
    };
    match resource {
        Resource::Workspace { .. } => Vec::new(),
        Resource::ObjectDefinition { id, handle, .. } => vec![object(id, handle)],
        Resource::Record {
            id,
            object_id,
            object_handle,
            data,
            ..
        } => {
            let data = data.as_ref().expect("the benchmarked record exists");
            let attributes: serde_json::Map<String, serde_json::Value> = ["region", "confidential"]
                .into_iter()
                .filter_map(|key| Some((key.to_owned(), data.attributes.get(key)?.clone())))
                .collect();
            let author = |key: &Option<String>| json!({"__entity": uid("ApiKey", key.as_deref().expect("an author"))});
            vec![
                json!({"uid": uid("Record", &format!("{object_id}/{id}")),
                       "parents": [uid("ObjectDefinition", object_id)],
                       "attrs": {"workspace": {"__entity": workspace}, "objectHandle": object_handle,
                                 "attributes": attributes, "createdBy": author(&data.created_by),
                                 "updatedBy": author(&data.updated_by)}}),
                object(object_id, object_handle),
            ]
        }
        other => unreachable!("no Cedar comparison for {other:?}"),
    }
}

/// Cedar alone on `bundle`'s whole policy set, for `action` on `resource` by the bench key.
fn cedar_alone<'a>(
    bundle: &'a PolicyBundle,
    action: Action,
    resource: &Resource,
) -> CedarAlone<'a> {
    let workspace = uid("Workspace", "ws_bench");
    let key = json!({"uid": uid("ApiKey", "key_bench"), "parents": [workspace, uid("Role", "viewer")],
                     "attrs": {"workspace": {"__entity": workspace}, "environment": "live"}, "tags": {}});
    let built = std::iter::once(key)
        .chain(std::iter::once(
            json!({"uid": workspace, "parents": [], "attrs": {}}),
        ))
        .chain(resource_json(resource))
        .collect::<Vec<_>>();
    let built = Entities::from_json_value(serde_json::Value::Array(built), Some(&bundle.schema))
        .expect("the bench's entities conform to the schema");
    // Checked against the schema, which adds its action entities; the roles and
    // permissions come from the loaded set.
    let entities = Entities::from_entities(
        built.iter().cloned().chain(
            bundle
                .base_entities
                .iter()
                .filter(|entity| built.get(&entity.uid()).is_none())
                .cloned(),
        ),
        None,
    )
    .expect("one entity per uid");
    let resource_uid = EntityUid::from_json(match resource {
        Resource::Workspace { id } => uid("Workspace", id),
        Resource::ObjectDefinition { id, .. } => uid("ObjectDefinition", id),
        Resource::Record { id, object_id, .. } => uid("Record", &format!("{object_id}/{id}")),
        other => unreachable!("no Cedar comparison for {other:?}"),
    })
    .expect("a uid");
    let context = Context::from_json_value(
        json!({"ip": {"__extn": {"fn": "ip", "arg": "127.0.0.1"}},
               "time": {"__extn": {"fn": "datetime", "arg": "2026-12-03T10:00:00Z"}},
               "method": "GET", "path": "/api/objects/invoices"}),
        None,
    )
    .expect("a context");
    let principal = EntityUid::from_json(uid("ApiKey", "key_bench")).expect("a uid");
    let request = Request::new(
        principal,
        bundle.action_uid(action).clone(),
        resource_uid,
        context,
        Some(&bundle.schema),
    )
    .expect("the request conforms to the schema");
    CedarAlone {
        policies: &bundle.policies,
        request,
        entities,
    }
}

/// A row of the table printed at the end: Andi's decision beside Cedar alone.
struct Row<'a> {
    name: &'static str,
    bundle: &'a PolicyBundle,
    action: Action,
    resource: Resource,
    cedar: CedarAlone<'a>,
}

fn decide<'a>(
    c: &mut Criterion,
    rows: &mut Vec<Row<'a>>,
    name: &'static str,
    bundle: &'a PolicyBundle,
    action: Action,
    resource: &Resource,
) {
    let (principal, context) = (key("key_bench"), context());
    let evaluation = evaluate(
        bundle,
        Principal::Key(&principal),
        action,
        resource,
        &context,
    )
    .expect("the request evaluates");
    assert!(
        evaluation.allowed,
        "{name}: the benchmarked request is allowed"
    );
    let cedar = cedar_alone(bundle, action, resource);
    assert!(cedar.decide(), "{name}: Cedar alone allows it too");
    c.bench_function(&format!("decision/{name}"), |b| {
        b.iter(|| {
            evaluate(
                std::hint::black_box(bundle),
                Principal::Key(&principal),
                action,
                resource,
                &context,
            )
        })
    });
    rows.push(Row {
        name,
        bundle,
        action,
        resource: resource.clone(),
        cedar,
    });
}

/// Median time of one call of `andi` and of `cedar`, over samples of about a millisecond
/// each, the two alternating.
fn paired(mut andi: impl FnMut(), mut cedar: impl FnMut()) -> (Duration, Duration) {
    let started = Instant::now();
    let mut calls = 0u32;
    while started.elapsed() < Duration::from_millis(1) {
        andi();
        calls += 1;
    }
    let sample = |f: &mut dyn FnMut()| {
        let started = Instant::now();
        for _ in 0..calls {
            f();
        }
        started.elapsed() / calls
    };
    let (mut a, mut b): (Vec<Duration>, Vec<Duration>) = (0..301)
        .map(|_| (sample(&mut andi), sample(&mut cedar)))
        .unzip();
    a.sort();
    b.sort();
    (a[a.len() / 2], b[b.len() / 2])
}

fn print_table(rows: &[Row<'_>], shipped: &PolicyBundle) {
    let (principal, context) = (key("key_bench"), context());
    println!();
    println!(
        "Andi's decision beside Cedar's own is_authorized (whole policy set, entities and request built beforehand), paired medians:"
    );
    println!(
        "{:<58} {:>9} {:>14} {:>7} {:>17} {:>7}",
        "case", "andi µs", "cedar same set", "ratio", "cedar shipped set", "ratio"
    );
    for row in rows {
        let andi = || {
            std::hint::black_box(evaluate(
                row.bundle,
                Principal::Key(&principal),
                row.action,
                &row.resource,
                &context,
            ))
            .expect("the request evaluates");
        };
        let (a, b) = paired(andi, || {
            std::hint::black_box(row.cedar.decide());
        });
        let cedar_shipped = cedar_alone(shipped, row.action, &row.resource);
        let (a_again, s) = paired(andi, || {
            std::hint::black_box(cedar_shipped.decide());
        });
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "{:<58} {:>9.2} {:>14.2} {:>6.2}× {:>17.2} {:>6.2}×",
            row.name,
            us(a),
            us(b),
            us(a) / us(b),
            us(s),
            us(a_again) / us(s),
        );
    }
}

fn decisions(c: &mut Criterion) {
    let shipped = load(Path::new(&shipped())).expect("shipped policies load");
    let mut rows = Vec::new();
    decide(
        c,
        &mut rows,
        "shipped policies",
        &shipped,
        Action::GetObject,
        &object(),
    );

    let other_actions: String = (0..1_000)
        .map(|n| {
            let action = ["deleteObject", "upsertRecords", "patchRecords", "getRecord"][n % 4];
            format!(
                "@id(\"other-action-{n}\")\npermit (principal is Andi::ApiKey, action == Andi::Action::\"{action}\", resource)\nwhen {{ context.path == \"/p{n}\" }};\n"
            )
        })
        .collect();
    let (bundle, _dir) = bundle_with_extra(&other_actions);
    decide(
        c,
        &mut rows,
        "+1000 policies for other actions",
        &bundle,
        Action::GetObject,
        &object(),
    );

    let other_keys: String = (0..1_000)
        .map(|n| {
            format!(
                "@id(\"other-key-{n}\")\nforbid (principal == Andi::ApiKey::\"key_other{n}\", action in Andi::Action::\"objects.read\", resource)\nwhen {{ context.path == \"/p{n}\" }};\n"
            )
        })
        .collect();
    let (bundle, _dir) = bundle_with_extra(&other_keys);
    decide(
        c,
        &mut rows,
        "+1000 policies for other keys",
        &bundle,
        Action::GetObject,
        &object(),
    );

    // A record of ten attributes, two of which the shipped schema lets policies read.
    let attributes = serde_json::json!({
        "number": "INV-1", "amount": 120.5, "status": "open", "region": "EU",
        "confidential": false, "customer": "cus_1", "dueOn": "2026-12-01",
        "note": "net 30", "tags": ["a", "b"], "paidAt": "2026-11-26T09:30:00.000Z",
    });
    let record = Resource::Record {
        id: "rec_bench".to_owned(),
        object_id: "obj_bench".to_owned(),
        object_handle: "invoices".to_owned(),
        workspace_id: "ws_bench".to_owned(),
        data: Some(RecordData {
            attributes: attributes.as_object().cloned().expect("an object"),
            created_by: Some("key_bench".to_owned()),
            updated_by: Some("key_bench".to_owned()),
        }),
    };
    decide(
        c,
        &mut rows,
        "shipped policies, a record with attributes",
        &shipped,
        Action::GetRecord,
        &record,
    );
    let (record_level, _dir) = bundle_with_extra(
        "@id(\"eu-only\")\nforbid (principal, action, resource is Andi::Record)\nunless { resource.attributes has region && resource.attributes.region == \"EU\" };\n@id(\"confidential\")\nforbid (principal, action == Andi::Action::\"getRecord\", resource is Andi::Record)\nwhen { resource.attributes has confidential && resource.attributes.confidential && !(principal in Andi::Role::\"admin\") };\n@id(\"creator-writes\")\nforbid (principal, action in Andi::Action::\"objects.write\", resource is Andi::Record)\nunless { resource has createdBy && resource.createdBy == principal };\n",
    );
    decide(
        c,
        &mut rows,
        "record-level policies read its attributes",
        &record_level,
        Action::GetRecord,
        &record,
    );
    let own_workspace = Resource::Workspace {
        id: "ws_bench".to_owned(),
    };
    decide(
        c,
        &mut rows,
        "shipped policies, own workspace (remembered)",
        &shipped,
        Action::ListObjects,
        &own_workspace,
    );
    let (reads_context, _dir) = bundle_with_extra(
        "@id(\"no-blocked-ip\")\nforbid (principal, action == Andi::Action::\"listObjects\", resource)\nwhen { context.ip == ip(\"10.9.9.9\") };\n",
    );
    decide(
        c,
        &mut rows,
        "own workspace, a policy reads the context (evaluated)",
        &reads_context,
        Action::ListObjects,
        &own_workspace,
    );

    let context = context();
    let mut keys_seen = 0u64;
    c.bench_function("decision/shipped policies, a key's first decision", |b| {
        b.iter_batched(
            || {
                keys_seen += 1;
                key(&format!("key_new{keys_seen}"))
            },
            |principal| {
                evaluate(
                    &shipped,
                    Principal::Key(&principal),
                    Action::ListObjects,
                    &own_workspace,
                    &context,
                )
            },
            BatchSize::SmallInput,
        )
    });

    // `cargo bench` passes `--bench`; `cargo test --benches` runs each case once, without it.
    if std::env::args().any(|arg| arg == "--bench") {
        print_table(&rows, &shipped);
    }
}

criterion_group!(benches, decisions);
criterion_main!(benches);
