//! The server decides as Cedar does on the full entity graph. Generated record-level
//! policies (permits and forbids, `when` and `unless`, over record attributes, record
//! authors, key attributes, key metadata (tags) and object limits, roles and permissions
//! named by literal, and the request method) are loaded by a server; every key then reads
//! and patches every record over HTTP, and each answer, and each `getRecord` line of the
//! decision log (outcome and determining policies), must equal what Cedar itself decides
//! with every key, object, record, role, permission and action of the workspace as
//! entities, built here from the schema's meaning and not from Andi's code. Runs on
//! whichever database the suite runs on.

use std::collections::BTreeMap;
use std::str::FromStr;

use andi::keys::api_key::NewKey;
use andi::keys::grant::{Permission, Role};
use andi::keys::metadata::KeyMetadata;
use andi::keys::object_limit::ObjectLimit;
use andi::keys::secret::Environment;
use andi::objects::handle::ObjectHandle;
use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request, Schema,
};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::helpers::{TestApp, new_key};
use crate::policy_files::copy_of_shipped_policies;

const ROUNDS: u64 = 6;
const POLICIES_PER_ROUND: usize = 8;
const RECORDS: usize = 8;

struct Key {
    id: String,
    secret: String,
    role: Option<Role>,
    permissions: Vec<Permission>,
    environment: Environment,
    /// Its tags: `principal.getTag("region")`.
    metadata: BTreeMap<String, String>,
    /// The objects it is limited to: `principal.objects`.
    objects: Option<Vec<&'static str>>,
}

/// A key to make: role, permissions, environment, metadata, object limit.
type KeySpec = (
    Option<Role>,
    Vec<Permission>,
    Environment,
    &'static [(&'static str, &'static str)],
    Option<Vec<&'static str>>,
);

/// The schema as shipped, with `tier` declared too, so policies compare a `Long`.
fn schema_text(shipped: &str) -> String {
    shipped.replace(
        "confidential?: Bool,",
        "confidential?: Bool,\n    tier?: Long,",
    )
}

fn atom(rng: &mut StdRng, keys: &[Key]) -> String {
    let key = &keys.choose(rng).expect("keys").id;
    let role = ["admin", "editor", "viewer"].choose(rng).expect("roles");
    let permission = ["objects.read", "objects.write"]
        .choose(rng)
        .expect("perms");
    match rng.random_range(0..14) {
        0 => r#"(resource.attributes has region && resource.attributes.region == "EU")"#.to_owned(),
        1 => {
            "(resource.attributes has confidential && resource.attributes.confidential)".to_owned()
        }
        2 => "(resource has createdBy && resource.createdBy == principal)".to_owned(),
        3 => format!(r#"(resource has createdBy && resource.createdBy == Andi::ApiKey::"{key}")"#),
        4 => r#"principal.environment == "test""#.to_owned(),
        5 => format!(r#"Andi::Role::"{role}" in Andi::Permission::"{permission}""#),
        6 => format!(r#"principal in Andi::Role::"{role}""#),
        7 => r#"context.method == "GET""#.to_owned(),
        8 => format!(
            "(resource.attributes has tier && resource.attributes.tier >= {})",
            rng.random_range(0..5)
        ),
        9 => r#"(principal.hasTag("region") && resource.attributes has region && principal.getTag("region") == resource.attributes.region)"#.to_owned(),
        10 => format!(
            r#"(principal.hasTag("region") && principal.getTag("region") == "{}")"#,
            ["EU", "US"].choose(rng).expect("regions")
        ),
        11 => "(principal has objects && principal.objects.contains(resource.objectHandle))"
            .to_owned(),
        12 => "principal has objects".to_owned(),
        _ => r#"resource.attributes has region"#.to_owned(),
    }
}

fn condition(rng: &mut StdRng, keys: &[Key], depth: u8) -> String {
    if depth == 0 || rng.random_bool(0.4) {
        return atom(rng, keys);
    }
    match rng.random_range(0..3) {
        0 => format!(
            "({} && {})",
            condition(rng, keys, depth - 1),
            condition(rng, keys, depth - 1)
        ),
        1 => format!(
            "({} || {})",
            condition(rng, keys, depth - 1),
            condition(rng, keys, depth - 1)
        ),
        _ => format!("!({})", condition(rng, keys, depth - 1)),
    }
}

fn policy(rng: &mut StdRng, keys: &[Key], n: usize) -> String {
    let effect = if rng.random_bool(0.6) {
        "forbid"
    } else {
        "permit"
    };
    let principal = match rng.random_range(0..3) {
        0 => "principal is Andi::ApiKey".to_owned(),
        1 => format!(
            r#"principal is Andi::ApiKey in Andi::Role::"{}""#,
            ["admin", "editor", "viewer"].choose(rng).expect("roles")
        ),
        _ => format!(
            r#"principal == Andi::ApiKey::"{}""#,
            keys.choose(rng).expect("keys").id
        ),
    };
    let action = [
        "action",
        r#"action == Andi::Action::"getRecord""#,
        r#"action == Andi::Action::"patchRecords""#,
        r#"action in Andi::Action::"objects.write""#,
    ]
    .choose(rng)
    .expect("actions");
    let clause = if rng.random_bool(0.5) {
        "when"
    } else {
        "unless"
    };
    format!(
        "@id(\"generated-{n}\")\n{effect} ({principal}, {action}, resource is Andi::Record)\n{clause} {{ {} }};\n",
        condition(rng, keys, 2)
    )
}

/// Every entity of the workspace, as Cedar's JSON entity format states them.
fn full_entities(
    workspace: &str,
    keys: &[Key],
    object: &Value,
    records: &BTreeMap<String, Value>,
    roles: &Value,
    schema: &Schema,
) -> Entities {
    let mut entities: Vec<Value> = roles.as_array().expect("entities.json").clone();
    entities.push(
        json!({"uid": {"type": "Andi::Workspace", "id": workspace}, "attrs": {}, "parents": []}),
    );
    for key in keys {
        let mut parents = vec![json!({"type": "Andi::Workspace", "id": workspace})];
        if let Some(role) = key.role {
            parents.push(json!({"type": "Andi::Role", "id": role.as_str()}));
        }
        for permission in &key.permissions {
            parents.push(json!({"type": "Andi::Permission", "id": permission.as_str()}));
        }
        let mut attrs = json!({
            "workspace": {"__entity": {"type": "Andi::Workspace", "id": workspace}},
            "environment": key.environment.as_str(),
        });
        if let Some(objects) = &key.objects {
            attrs["objects"] = json!(objects);
        }
        entities.push(json!({
            "uid": {"type": "Andi::ApiKey", "id": key.id},
            "attrs": attrs,
            "tags": key.metadata,
            "parents": parents,
        }));
    }
    let object_id = object["id"].as_str().expect("object id");
    let attribute_keys: Vec<&String> = object["attributes"]
        .as_object()
        .expect("attributes")
        .keys()
        .collect();
    entities.push(json!({
        "uid": {"type": "Andi::ObjectDefinition", "id": object_id},
        "attrs": {
            "workspace": {"__entity": {"type": "Andi::Workspace", "id": workspace}},
            "handle": object["handle"],
            "attributeKeys": attribute_keys,
        },
        "parents": [{"type": "Andi::Workspace", "id": workspace}],
    }));
    for (id, record) in records {
        let values = record["attributes"].as_object().expect("attributes");
        let declared: serde_json::Map<String, Value> = ["region", "confidential", "tier"]
            .iter()
            .filter_map(|key| Some((key.to_string(), values.get(*key)?.clone())))
            .collect();
        let mut attrs = json!({
            "workspace": {"__entity": {"type": "Andi::Workspace", "id": workspace}},
            "objectHandle": object["handle"],
            "attributes": declared,
        });
        for author in ["createdBy", "updatedBy"] {
            if let Some(key) = record[author].as_str() {
                attrs[author] = json!({"__entity": {"type": "Andi::ApiKey", "id": key}});
            }
        }
        entities.push(json!({
            "uid": {"type": "Andi::Record", "id": format!("{object_id}/{id}")},
            "attrs": attrs,
            "parents": [{"type": "Andi::ObjectDefinition", "id": object_id}],
        }));
    }
    Entities::from_json_value(Value::Array(entities), Some(schema)).expect("the full entity graph")
}

fn uid(type_name: &str, id: &str) -> EntityUid {
    EntityUid::from_str(&format!("Andi::{type_name}::{}", json!(id))).expect("a uid")
}

/// Cedar itself, on one policy set and schema.
struct Cedar<'a> {
    policies: &'a PolicySet,
    schema: &'a Schema,
}

impl Cedar<'_> {
    fn allows(
        &self,
        entities: &Entities,
        key: &Key,
        action: &str,
        resource: EntityUid,
        method: &str,
        path: &str,
    ) -> bool {
        self.decide(entities, key, action, resource, method, path).0
    }

    /// Whether Cedar allows the request, and its determining policies, sorted.
    fn decide(
        &self,
        entities: &Entities,
        key: &Key,
        action: &str,
        resource: EntityUid,
        method: &str,
        path: &str,
    ) -> (bool, Vec<String>) {
        let context = Context::from_json_value(
            json!({
                "ip": {"__extn": {"fn": "ip", "arg": "127.0.0.1"}},
                "time": {"__extn": {"fn": "datetime", "arg": "2026-12-03T10:00:00Z"}},
                "method": method,
                "path": path,
            }),
            None,
        )
        .expect("a context");
        let request = Request::new(
            uid("ApiKey", &key.id),
            uid("Action", action),
            resource,
            context,
            Some(self.schema),
        )
        .expect("a valid request");
        let response = Authorizer::new().is_authorized(&request, self.policies, entities);
        // Named by their `@id`, as Andi names them.
        let mut policies: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| {
                let policy = self.policies.policy(id).expect("a determining policy");
                policy.annotation("id").expect("an @id").to_owned()
            })
            .collect();
        policies.sort();
        (response.decision() == Decision::Allow, policies)
    }
}

#[tokio::test]
async fn decisions_equal_cedar_on_the_full_entity_graph() {
    let shipped = copy_of_shipped_policies();
    let schema_path = shipped.path().join("schema.cedarschema");
    let schema_source = schema_text(&std::fs::read_to_string(&schema_path).unwrap());
    std::fs::write(&schema_path, &schema_source).unwrap();
    let (schema, _) = Schema::from_cedarschema_str(&schema_source).unwrap();
    let roles: Value = serde_json::from_str(
        &std::fs::read_to_string(shipped.path().join("entities.json")).unwrap(),
    )
    .unwrap();

    // Data written through a server on the shipped policies.
    let seeder = TestApp::builder().policies(shipped.path()).spawn().await;
    let workspace = seeder.create_workspace("acme").await;
    let mut keys = Vec::new();
    // Tags and object limits on some keys: one is limited to another object, so the
    // shipped key-object-limits policy denies it every record here.
    let keys_made: [KeySpec; 7] = [
        (
            Some(Role::Admin),
            vec![],
            Environment::Live,
            &[("region", "EU")],
            None,
        ),
        (Some(Role::Editor), vec![], Environment::Live, &[], None),
        (
            Some(Role::Editor),
            vec![],
            Environment::Test,
            &[("region", "US")],
            None,
        ),
        (
            Some(Role::Viewer),
            vec![],
            Environment::Live,
            &[("region", "EU")],
            Some(vec!["customers"]),
        ),
        (
            None,
            vec![Permission::ObjectsRead, Permission::ObjectsWrite],
            Environment::Live,
            &[],
            Some(vec!["orders"]),
        ),
        (
            Some(Role::Viewer),
            vec![],
            Environment::Live,
            &[("region", "US"), ("team", "ops")],
            None,
        ),
        (
            Some(Role::Editor),
            vec![],
            Environment::Live,
            &[("team", "ops")],
            Some(vec!["customers", "orders"]),
        ),
    ];
    for (role, permissions, environment, metadata, objects) in keys_made {
        let metadata: BTreeMap<String, String> = metadata
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let new = NewKey {
            metadata: KeyMetadata::new(metadata.clone()).unwrap(),
            objects: objects.as_ref().map(|handles| {
                ObjectLimit::new(handles.iter().map(|h| ObjectHandle::parse(h).unwrap())).unwrap()
            }),
            ..new_key(role, &permissions, environment)
        };
        let (secret, id) = seeder.create_key_from(&workspace, new).await;
        keys.push(Key {
            id,
            secret,
            role,
            permissions,
            environment,
            metadata,
            objects,
        });
    }
    let created = seeder
        .post_json(
            "/api/objects",
            &keys[0].secret,
            &json!({"name": "Customers", "handle": "customers", "attributes": {
                "region": {"type": "select", "options": [{"value": "EU"}, {"value": "US"}]},
                "confidential": {"type": "boolean"},
                "tier": {"type": "integer"},
                "note": {"type": "text"},
            }}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let object: Value = created.json().await.unwrap();

    let mut rng = StdRng::seed_from_u64(20261203);
    let mut records: BTreeMap<String, Value> = BTreeMap::new();
    for i in 0..RECORDS {
        let mut attributes = serde_json::Map::new();
        if rng.random_bool(0.8) {
            attributes.insert("region".into(), json!(["EU", "US"].choose(&mut rng)));
        }
        if rng.random_bool(0.7) {
            attributes.insert("confidential".into(), json!(rng.random_bool(0.4)));
        }
        if rng.random_bool(0.7) {
            attributes.insert("tier".into(), json!(rng.random_range(0..5)));
        }
        attributes.insert("note".into(), json!(format!("record {i}")));
        // Writers with objects.write that may use this object.
        let writer = &keys[[0, 1, 2, 6][i % 4]];
        let written = seeder
            .post_json(
                "/api/objects/customers/data/upsert-many",
                &writer.secret,
                &json!({"records": [{"id": format!("cus_{i}"), "attributes": attributes}]}),
            )
            .await;
        assert_eq!(written.status(), 200);
        let body: Value = written.json().await.unwrap();
        records.insert(format!("cus_{i}"), body["records"][0].clone());
    }

    let object_id = object["id"].as_str().unwrap().to_owned();
    let (mut allowed, mut denied) = (0, 0);
    for round in 0..ROUNDS {
        let generated: String = (0..POLICIES_PER_ROUND)
            .map(|n| policy(&mut rng, &keys, n))
            .collect();
        let policies = copy_of_shipped_policies();
        std::fs::write(policies.path().join("schema.cedarschema"), &schema_source).unwrap();
        std::fs::write(policies.path().join("generated.cedar"), &generated).unwrap();
        let all_policies: PolicySet = std::fs::read_dir(policies.path())
            .unwrap()
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "cedar"))
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect::<String>()
            .parse()
            .unwrap_or_else(|e| panic!("round {round}: {e}\n{generated}"));
        let cedar = Cedar {
            policies: &all_policies,
            schema: &schema,
        };
        let log_path = policies.path().join("decisions.jsonl");
        let server = TestApp::builder()
            .policies(policies.path())
            .database_of(&seeder)
            .decision_log(&log_path)
            .spawn()
            .await;
        // Cedar's decision and determining policies for each getRecord, by request id.
        let mut expected_lines: BTreeMap<String, (bool, Vec<String>)> = BTreeMap::new();

        for key in &keys {
            for (id, record) in records.clone() {
                let path = format!("/api/objects/customers/data/{id}");
                let entities =
                    full_entities(&workspace.id, &keys, &object, &records, &roles, &schema);
                let record_uid = uid("Record", &format!("{object_id}/{id}"));
                let (expected, determining) = cedar.decide(
                    &entities,
                    key,
                    "getRecord",
                    record_uid.clone(),
                    "GET",
                    &path,
                );
                let request_id = format!("get-{}-{id}", key.id);
                let status = server
                    .client
                    .get(server.url(&path))
                    .bearer_auth(&key.secret)
                    .header("x-request-id", &request_id)
                    .send()
                    .await
                    .unwrap()
                    .status();
                expected_lines.insert(request_id, (expected, determining));
                if expected {
                    allowed += 1
                } else {
                    denied += 1
                }
                assert_eq!(
                    status == 200,
                    expected,
                    "round {round}: getRecord {id} by {} ({:?}) answered {status}\nrecord: {record}\npolicies:\n{generated}",
                    key.id,
                    key.role
                );

                // A patch that changes nothing but its author: decided on the object, then on
                // the record as it is and as it would be (last changed by this key).
                let patch_path = "/api/objects/customers/data/patch-many";
                let mut after = records.clone();
                after.get_mut(&id).unwrap()["updatedBy"] = json!(key.id);
                let after_entities =
                    full_entities(&workspace.id, &keys, &object, &after, &roles, &schema);
                let on = |entities: &Entities, resource: EntityUid| {
                    cedar.allows(entities, key, "patchRecords", resource, "PATCH", patch_path)
                };
                let expected = on(&entities, uid("ObjectDefinition", &object_id))
                    && on(&entities, record_uid.clone())
                    && on(&after_entities, record_uid);
                let response = server
                    .client
                    .patch(server.url(patch_path))
                    .bearer_auth(&key.secret)
                    .json(&json!({"records": [{"id": id, "attributes": {}}]}))
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                if expected {
                    allowed += 1
                } else {
                    denied += 1
                }
                assert_eq!(
                    status == 200,
                    expected,
                    "round {round}: patchRecords {id} by {} ({:?}) answered {status}\nrecord: {record}\npolicies:\n{generated}",
                    key.id,
                    key.role
                );
                if status == 200 {
                    records = after;
                }
            }
        }
        server.stop().await;
        // A denied read is decided once more on the record as if it were missing (a 403 or
        // a 404): the first line of each request is the decision on the record itself.
        let mut logged = std::collections::BTreeSet::new();
        for line in std::fs::read_to_string(&log_path).unwrap().lines() {
            let line: Value = serde_json::from_str(line).unwrap();
            let Some((request_id, (expected, determining))) = line["requestId"]
                .as_str()
                .and_then(|id| expected_lines.get_key_value(id))
            else {
                continue;
            };
            if line["action"] != "getRecord" || !logged.insert(request_id) {
                continue;
            }
            let decision = if *expected { "allow" } else { "deny" };
            assert_eq!(
                (line["decision"].as_str(), &line["policies"]),
                (Some(decision), &json!(determining)),
                "round {round}: the decision log differs from Cedar\nline: {line}\npolicies:\n{generated}"
            );
        }
        assert_eq!(
            logged.len(),
            expected_lines.len(),
            "round {round}: a getRecord line for each request"
        );
    }
    // The generator must exercise both outcomes for the comparison to mean anything.
    let total = allowed + denied;
    assert_eq!(total, ROUNDS as usize * keys.len() * RECORDS * 2);
    assert!(
        allowed * 5 > total && denied * 5 > total,
        "{allowed} allowed, {denied} denied"
    );
}
