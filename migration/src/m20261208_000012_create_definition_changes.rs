//! Definition changes that must be checked against an object's records before they apply
//! (a new type, a new required or unique attribute). The row is written when the change is
//! asked for and carries the check's progress, so a check cut short by a crash resumes at
//! the next start; once finished it keeps the outcome until the object's next such change.
//! The JSON columns are text, read back the same on both databases.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DefinitionChanges::Table)
                    .col(
                        ColumnDef::new(DefinitionChanges::ObjectId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(DefinitionChanges::WorkspaceId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(DefinitionChanges::Name).string().not_null())
                    .col(ColumnDef::new(DefinitionChanges::Description).text())
                    .col(
                        ColumnDef::new(DefinitionChanges::Attributes)
                            .text()
                            .not_null(),
                    )
                    .col(ColumnDef::new(DefinitionChanges::Checked).text().not_null())
                    .col(ColumnDef::new(DefinitionChanges::Phase).string().not_null())
                    .col(ColumnDef::new(DefinitionChanges::AfterId).string())
                    .col(
                        ColumnDef::new(DefinitionChanges::RecordsChecked)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DefinitionChanges::Blocking)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DefinitionChanges::RequestedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(DefinitionChanges::FinishedAt).timestamp_with_time_zone())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DefinitionChanges::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DefinitionChanges {
    Table,
    ObjectId,
    WorkspaceId,
    Name,
    Description,
    Attributes,
    Checked,
    Phase,
    AfterId,
    RecordsChecked,
    Blocking,
    RequestedAt,
    FinishedAt,
}
