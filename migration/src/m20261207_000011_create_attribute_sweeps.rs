//! Attributes removed from a definition whose values are still being removed from its
//! records, step by step after the change committed. A row is written in the definition
//! change's transaction and deleted when the last step is done, so a sweep cut short by a
//! crash resumes at the next start.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AttributeSweeps::Table)
                    .col(
                        ColumnDef::new(AttributeSweeps::ObjectId)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AttributeSweeps::AttributeKey)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AttributeSweeps::WorkspaceId)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AttributeSweeps::RequestedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(AttributeSweeps::ObjectId)
                            .col(AttributeSweeps::AttributeKey),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AttributeSweeps::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AttributeSweeps {
    Table,
    ObjectId,
    AttributeKey,
    WorkspaceId,
    RequestedAt,
}
