//! Who created and who last changed each record (a key id), so that policies can say "a key
//! changes only the records it created". Records written before this change have neither.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [Records::CreatedBy, Records::UpdatedBy] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Records::Table)
                        .add_column(ColumnDef::new(column).string().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Records::UpdatedBy, Records::CreatedBy] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Records::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Records {
    Table,
    CreatedBy,
    UpdatedBy,
}
