//! Workspaces, their API keys and their object definitions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Workspaces::Table)
                    .col(string(Workspaces::Id).primary_key())
                    .col(string_uniq(Workspaces::Handle))
                    .col(string(Workspaces::Name))
                    .col(timestamp_with_time_zone(Workspaces::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(string(ApiKeys::Id).primary_key())
                    .col(string(ApiKeys::WorkspaceId))
                    .col(string(ApiKeys::Name))
                    // SHA-256 of the whole key, hex: the lookup key. The secret is never stored.
                    .col(string_uniq(ApiKeys::KeyHash))
                    .col(string(ApiKeys::Start))
                    .col(string_null(ApiKeys::Role))
                    .col(string(ApiKeys::Permissions))
                    .col(string(ApiKeys::Environment))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone(ApiKeys::UpdatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .col(string_null(ApiKeys::RotatedTo))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeys::Table, ApiKeys::WorkspaceId)
                            .to(Workspaces::Table, Workspaces::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_api_keys_workspace")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::WorkspaceId)
                    .col(ApiKeys::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ObjectDefinitions::Table)
                    .col(string(ObjectDefinitions::Id).primary_key())
                    .col(string(ObjectDefinitions::WorkspaceId))
                    .col(string(ObjectDefinitions::Handle))
                    .col(string(ObjectDefinitions::Name))
                    .col(text_null(ObjectDefinitions::Description))
                    .col(json_binary(ObjectDefinitions::Attributes))
                    .col(timestamp_with_time_zone(ObjectDefinitions::CreatedAt))
                    .col(timestamp_with_time_zone(ObjectDefinitions::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ObjectDefinitions::Table, ObjectDefinitions::WorkspaceId)
                            .to(Workspaces::Table, Workspaces::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Handles are unique per workspace; the index also serves every lookup by handle.
        manager
            .create_index(
                Index::create()
                    .name("idx_object_definitions_workspace_handle")
                    .table(ObjectDefinitions::Table)
                    .col(ObjectDefinitions::WorkspaceId)
                    .col(ObjectDefinitions::Handle)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ObjectDefinitions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ApiKeys::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Workspaces::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
    Handle,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
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
}

#[derive(DeriveIden)]
enum ObjectDefinitions {
    Table,
    Id,
    WorkspaceId,
    Handle,
    Name,
    Description,
    Attributes,
    CreatedAt,
    UpdatedAt,
}
