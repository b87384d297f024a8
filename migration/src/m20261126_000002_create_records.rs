//! Records of object definitions, and the side table that makes unique attributes unique.

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
                    .table(Records::Table)
                    // A surrogate key, because a record id is unique only among live records:
                    // a soft-deleted row keeps its id while a new record may reuse it.
                    .col(big_pk_auto(Records::Pk))
                    .col(string(Records::WorkspaceId))
                    .col(string(Records::ObjectId))
                    .col(string(Records::Id))
                    .col(string_null(Records::Name))
                    .col(json_binary(Records::Attributes))
                    .col(timestamp_with_time_zone(Records::CreatedAt))
                    .col(timestamp_with_time_zone(Records::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Records::DeletedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Records::Table, Records::ObjectId)
                            .to(ObjectDefinitions::Table, ObjectDefinitions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecordUniqueValues::Table)
                    .col(string(RecordUniqueValues::WorkspaceId))
                    .col(string(RecordUniqueValues::ObjectId))
                    .col(string(RecordUniqueValues::AttributeKey))
                    .col(text(RecordUniqueValues::Value))
                    .col(string(RecordUniqueValues::RecordId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RecordUniqueValues::Table, RecordUniqueValues::ObjectId)
                            .to(ObjectDefinitions::Table, ObjectDefinitions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Partial indexes (live rows only) are written as SQL: both backends accept the
        // same statement.
        let db = manager.get_connection();
        // A record id is unique among the live records of an object.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX idx_records_live_id ON records \
             (workspace_id, object_id, id) WHERE deleted_at IS NULL",
        )
        .await?;
        // The default page order (createdAt, id) of live records.
        db.execute_unprepared(
            "CREATE INDEX idx_records_live_created ON records \
             (workspace_id, object_id, created_at, id) WHERE deleted_at IS NULL",
        )
        .await?;
        // The database, not the application, guarantees a unique attribute value is held
        // by one live record, even under concurrent writers. It leads with the value so a
        // lookup of many values is an index condition: led by the workspace, PostgreSQL
        // without statistics on a young table filtered the values over a whole object.
        manager
            .create_index(
                Index::create()
                    .name("idx_record_unique_values_value")
                    .table(RecordUniqueValues::Table)
                    .col(RecordUniqueValues::Value)
                    .col(RecordUniqueValues::AttributeKey)
                    .col(RecordUniqueValues::ObjectId)
                    .col(RecordUniqueValues::WorkspaceId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Releasing a record's values; it leads with the record id for the same reason.
        manager
            .create_index(
                Index::create()
                    .name("idx_record_unique_values_record")
                    .table(RecordUniqueValues::Table)
                    .col(RecordUniqueValues::RecordId)
                    .col(RecordUniqueValues::WorkspaceId)
                    .col(RecordUniqueValues::ObjectId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RecordUniqueValues::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Records::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Records {
    Table,
    Pk,
    WorkspaceId,
    ObjectId,
    Id,
    Name,
    Attributes,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum RecordUniqueValues {
    Table,
    WorkspaceId,
    ObjectId,
    AttributeKey,
    Value,
    RecordId,
}

#[derive(DeriveIden)]
enum ObjectDefinitions {
    Table,
    Id,
}
