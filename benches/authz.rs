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
//! `cargo bench --bench authz`

#![expect(
    clippy::expect_used,
    reason = "a benchmark stops at its first broken assumption"
)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use andi::authz::{Action, PolicyBundle, RecordData, RequestContext, Resource, evaluate, load};
use andi::keys::grant::Role;
use andi::keys::secret::Environment;
use andi::principal::{KeyPrincipal, Principal, WorkspaceRef};
use chrono::Utc;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

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

fn decide(
    c: &mut Criterion,
    name: &str,
    bundle: &PolicyBundle,
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
    c.bench_function(name, |b| {
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
}

fn decisions(c: &mut Criterion) {
    let shipped = load(Path::new(&shipped())).expect("shipped policies load");
    decide(
        c,
        "decision/shipped policies",
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
        "decision/+1000 policies for other actions",
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
        "decision/+1000 policies for other keys",
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
        "decision/shipped policies, a record with attributes",
        &shipped,
        Action::GetRecord,
        &record,
    );
    let (record_level, _dir) = bundle_with_extra(
        "@id(\"eu-only\")\nforbid (principal, action, resource is Andi::Record)\nunless { resource.attributes has region && resource.attributes.region == \"EU\" };\n@id(\"confidential\")\nforbid (principal, action == Andi::Action::\"getRecord\", resource is Andi::Record)\nwhen { resource.attributes has confidential && resource.attributes.confidential && !(principal in Andi::Role::\"admin\") };\n@id(\"creator-writes\")\nforbid (principal, action in Andi::Action::\"objects.write\", resource is Andi::Record)\nunless { resource has createdBy && resource.createdBy == principal };\n",
    );
    decide(
        c,
        "decision/record-level policies read its attributes",
        &record_level,
        Action::GetRecord,
        &record,
    );
    let own_workspace = Resource::Workspace {
        id: "ws_bench".to_owned(),
    };
    decide(
        c,
        "decision/shipped policies, own workspace (remembered)",
        &shipped,
        Action::ListObjects,
        &own_workspace,
    );
    let (reads_context, _dir) = bundle_with_extra(
        "@id(\"no-blocked-ip\")\nforbid (principal, action == Andi::Action::\"listObjects\", resource)\nwhen { context.ip == ip(\"10.9.9.9\") };\n",
    );
    decide(
        c,
        "decision/own workspace, a policy reads the context (evaluated)",
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
}

criterion_group!(benches, decisions);
criterion_main!(benches);
