use sea_orm::entity::prelude::*;

/// One change to a key that servers must not keep serving from a cache: a revoke or a rotate.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "key_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub key_id: String,
    pub key_hash: String,
    /// `revoked` or `rotated`.
    pub kind: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
