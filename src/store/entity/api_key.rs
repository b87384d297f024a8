use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    /// The first characters of the key's current secret, for display.
    pub start: String,
    pub role: Option<String>,
    /// Space-separated permission names.
    pub permissions: String,
    pub environment: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    /// Metadata pairs, a JSON object of strings.
    pub metadata: Json,
    /// The object handles the key is limited to, a JSON array; `None` for every object.
    pub objects: Option<Json>,
    /// Requests per window; both `None` for a key without a rate limit.
    pub rate_limit_requests: Option<i32>,
    pub rate_limit_window_secs: Option<i32>,
    /// Who created the key: a console user's id, or `cli:` and an operating-system user;
    /// `None` for keys created before creators were recorded.
    pub created_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::workspace::Entity",
        from = "Column::WorkspaceId",
        to = "super::workspace::Column::Id"
    )]
    Workspace,
}

impl Related<super::workspace::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workspace.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
