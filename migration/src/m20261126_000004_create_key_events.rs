//! The key revocation sequence: every revoke and rotate appends a row in the same
//! transaction, so every server (and a `serve` beside the CLI) can follow changes to keys it
//! may have cached by reading the rows after the last sequence number it has seen.

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
                    .table(KeyEvents::Table)
                    .col(big_pk_auto(KeyEvents::Seq))
                    .col(string(KeyEvents::KeyId))
                    // The digest of the changed key: what a server's key cache is keyed by.
                    .col(string(KeyEvents::KeyHash))
                    .col(string(KeyEvents::Kind))
                    .col(timestamp_with_time_zone(KeyEvents::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(KeyEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum KeyEvents {
    Table,
    Seq,
    KeyId,
    KeyHash,
    Kind,
    CreatedAt,
}
