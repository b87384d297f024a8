//! Andi's database migrations, one file per change, applied in order by `andi migrate` and
//! at `andi serve` start. The same migrations serve SQLite and PostgreSQL. Migrations never
//! import the application's entity structs, so old ones keep compiling as entities change.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_workspaces_and_keys;
mod m20261126_000002_create_records;
mod m20261126_000003_create_console_users;
mod m20261126_000004_create_key_events;
mod m20261202_000005_create_invitations;
mod m20261203_000006_version_key_secrets;
mod m20261203_000007_add_record_authors;
mod m20261203_000009_create_idempotency_keys;
mod m20261203_000010_add_key_creators;
mod m20261207_000011_create_attribute_sweeps;
mod m20261208_000012_create_definition_changes;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_workspaces_and_keys::Migration),
            Box::new(m20261126_000002_create_records::Migration),
            Box::new(m20261126_000003_create_console_users::Migration),
            Box::new(m20261126_000004_create_key_events::Migration),
            Box::new(m20261202_000005_create_invitations::Migration),
            Box::new(m20261203_000006_version_key_secrets::Migration),
            Box::new(m20261203_000007_add_record_authors::Migration),
            Box::new(m20261203_000009_create_idempotency_keys::Migration),
            Box::new(m20261203_000010_add_key_creators::Migration),
            Box::new(m20261207_000011_create_attribute_sweeps::Migration),
            Box::new(m20261208_000012_create_definition_changes::Migration),
        ]
    }
}
