//! A key keeps its id across rotations; its secrets are versioned; and it may carry metadata
//! and be limited to named objects, which policies read; and it may carry a rate limit,
//! counted per fixed window in `key_rate_windows` so that servers sharing the database
//! share the count. Each key has one or more
//! secrets (`api_key_secrets`), looked up by digest; a rotation adds one and gives the old
//! ones an expiry, so a policy that names the key by id keeps applying to the rotated key.
//!
//! `api_keys` loses `key_hash` (now the secrets' lookup key) and `rotated_to` (a rotation no
//! longer makes a new key). SQLite cannot drop a UNIQUE column, so the table is rebuilt on
//! both backends alike: a new table, the rows copied, the old table dropped and the new one
//! renamed. No table refers to `api_keys` by foreign key, so the drop cascades nowhere.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns `api_keys` keeps.
const KEPT: [ApiKeys; 12] = [
    ApiKeys::Id,
    ApiKeys::WorkspaceId,
    ApiKeys::Name,
    ApiKeys::Start,
    ApiKeys::Role,
    ApiKeys::Permissions,
    ApiKeys::Environment,
    ApiKeys::CreatedAt,
    ApiKeys::UpdatedAt,
    ApiKeys::ExpiresAt,
    ApiKeys::RevokedAt,
    ApiKeys::LastUsedAt,
];

fn key_columns(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table
        .col(string(ApiKeys::Id).primary_key())
        .col(string(ApiKeys::WorkspaceId))
        .col(string(ApiKeys::Name))
        // The first characters of the key's current secret, for display.
        .col(string(ApiKeys::Start))
        .col(string_null(ApiKeys::Role))
        .col(string(ApiKeys::Permissions))
        .col(string(ApiKeys::Environment))
        .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
        .col(timestamp_with_time_zone(ApiKeys::UpdatedAt))
        .col(timestamp_with_time_zone_null(ApiKeys::ExpiresAt))
        .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
        .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
}

/// What a key says about itself, for policies: metadata pairs (a JSON object of strings)
/// and the object handles it is limited to (a JSON array; NULL for every object).
fn policy_columns(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table
        .col(json_binary(ApiKeys::Metadata).default("{}"))
        .col(json_binary_null(ApiKeys::Objects))
        // Requests per window of so many seconds; both NULL for a key without a limit.
        .col(integer_null(ApiKeys::RateLimitRequests))
        .col(integer_null(ApiKeys::RateLimitWindowSecs))
}

fn workspace_index() -> IndexCreateStatement {
    Index::create()
        .name("idx_api_keys_workspace")
        .table(ApiKeys::Table)
        .col(ApiKeys::WorkspaceId)
        .col(ApiKeys::CreatedAt)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In one transaction on SQLite too (sea-orm runs SQLite migrations without one by
    /// default): a rebuild half done would leave no `api_keys`, and each statement could
    /// otherwise run on another pooled connection that still sees the old schema.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                policy_columns(key_columns(Table::create().table(ApiKeysNext::Table)))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeysNext::Table, ApiKeys::WorkspaceId)
                            .to(Workspaces::Table, Workspaces::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(ApiKeysNext::Table)
                    .columns(KEPT)
                    .select_from(
                        Query::select()
                            .columns(KEPT)
                            .from(ApiKeys::Table)
                            .to_owned(),
                    )
                    .map_err(|e| DbErr::Migration(e.to_string()))?
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeySecrets::Table)
                    // SHA-256 of the whole secret, hex: the lookup key. The secret is never stored.
                    .col(string(ApiKeySecrets::KeyHash).primary_key())
                    .col(string(ApiKeySecrets::KeyId))
                    .col(timestamp_with_time_zone(ApiKeySecrets::CreatedAt))
                    // Set when the key is rotated away from this secret: the end of its grace.
                    .col(timestamp_with_time_zone_null(ApiKeySecrets::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeySecrets::Table, ApiKeySecrets::KeyId)
                            .to(ApiKeysNext::Table, ApiKeys::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Revocation and rotation read a key's secrets.
        manager
            .create_index(
                Index::create()
                    .name("idx_api_key_secrets_key")
                    .table(ApiKeySecrets::Table)
                    .col(ApiKeySecrets::KeyId)
                    .to_owned(),
            )
            .await?;
        // Today's keys each have one secret; a key rotated before this migration stays a
        // key of its own, with its expiry on the key.
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(ApiKeySecrets::Table)
                    .columns([
                        ApiKeySecrets::KeyHash,
                        ApiKeySecrets::KeyId,
                        ApiKeySecrets::CreatedAt,
                    ])
                    .select_from(
                        Query::select()
                            .columns([ApiKeys::KeyHash, ApiKeys::Id, ApiKeys::CreatedAt])
                            .from(ApiKeys::Table)
                            .to_owned(),
                    )
                    .map_err(|e| DbErr::Migration(e.to_string()))?
                    .to_owned(),
            )
            .await?;

        manager
            .drop_table(Table::drop().table(ApiKeys::Table).to_owned())
            .await?;
        // Both backends carry the secrets' foreign key over to the renamed table.
        manager
            .rename_table(
                Table::rename()
                    .table(ApiKeysNext::Table, ApiKeys::Table)
                    .to_owned(),
            )
            .await?;
        manager.create_index(workspace_index()).await?;

        manager
            .create_table(
                Table::create()
                    .table(KeyRateWindows::Table)
                    .col(string(KeyRateWindows::KeyId))
                    // Seconds since the epoch at which the fixed window began.
                    .col(big_integer(KeyRateWindows::WindowStart))
                    .col(big_integer(KeyRateWindows::Count))
                    .primary_key(
                        Index::create()
                            .col(KeyRateWindows::KeyId)
                            .col(KeyRateWindows::WindowStart),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(KeyRateWindows::Table, KeyRateWindows::KeyId)
                            .to(ApiKeys::Table, ApiKeys::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(KeyRateWindows::Table).to_owned())
            .await?;
        // Back to one secret per key: each key keeps its newest secret.
        manager
            .create_table(
                key_columns(Table::create().table(ApiKeysNext::Table))
                    .col(string_uniq(ApiKeys::KeyHash))
                    .col(string_null(ApiKeys::RotatedTo))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeysNext::Table, ApiKeys::WorkspaceId)
                            .to(Workspaces::Table, Workspaces::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let newest_secret = Query::select()
            .column(ApiKeySecrets::KeyHash)
            .from(ApiKeySecrets::Table)
            .and_where(
                Expr::col((ApiKeySecrets::Table, ApiKeySecrets::KeyId))
                    .equals((ApiKeys::Table, ApiKeys::Id)),
            )
            .order_by(ApiKeySecrets::CreatedAt, Order::Desc)
            .limit(1)
            .to_owned();
        let mut columns: Vec<ApiKeys> = KEPT.to_vec();
        columns.push(ApiKeys::KeyHash);
        let mut select = Query::select();
        select
            .columns(KEPT.map(|c| (ApiKeys::Table, c)))
            .expr(SimpleExpr::SubQuery(
                None,
                Box::new(newest_secret.into_sub_query_statement()),
            ))
            .from(ApiKeys::Table);
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(ApiKeysNext::Table)
                    .columns(columns)
                    .select_from(select)
                    .map_err(|e| DbErr::Migration(e.to_string()))?
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ApiKeySecrets::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ApiKeys::Table).to_owned())
            .await?;
        manager
            .rename_table(
                Table::rename()
                    .table(ApiKeysNext::Table, ApiKeys::Table)
                    .to_owned(),
            )
            .await?;
        manager.create_index(workspace_index()).await
    }
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum ApiKeys {
    Table,
    Id,
    WorkspaceId,
    Name,
    KeyHash,
    Start,
    Role,
    Permissions,
    Environment,
    CreatedAt,
    UpdatedAt,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
    RotatedTo,
    Metadata,
    Objects,
    RateLimitRequests,
    RateLimitWindowSecs,
}

#[derive(DeriveIden)]
enum KeyRateWindows {
    Table,
    KeyId,
    WindowStart,
    Count,
}

/// The rebuilt `api_keys`, under this name until the old one is dropped.
#[derive(DeriveIden)]
enum ApiKeysNext {
    Table,
}

#[derive(DeriveIden)]
enum ApiKeySecrets {
    Table,
    KeyHash,
    KeyId,
    CreatedAt,
    ExpiresAt,
}
