//! Each workspace's definition listing, the JSON body of `GET /api/objects`, held in memory
//! for a short lifetime, so a listing costs neither a database read nor its serialization.
//!
//! A definition change made through this server evicts its workspace as soon as it commits;
//! one made through another server (several servers on one PostgreSQL) shows in this
//! server's listings when the entry's lifetime ends (`ANDI_DEFINITION_CACHE_TTL`, 1 s by
//! default; `0s` turns the cache off). Writes never read from here: they read and lock the
//! definition inside their transaction.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use sea_orm::DatabaseConnection;

use super::error::ObjectsError;
use super::view::ObjectList;
use crate::store;
use crate::ttl_cache::TtlCache;

/// `ANDI_DEFINITION_CACHE_TTL`'s default.
pub const DEFAULT_DEFINITION_CACHE_TTL: Duration = Duration::from_secs(1);

/// Workspaces whose listings are held at once; past it, one is dropped for each new one.
const WORKSPACES_HELD: usize = 10_000;

pub struct DefinitionCache {
    workspaces: TtlCache<String, Bytes>,
}

impl DefinitionCache {
    pub fn new(ttl: Duration) -> DefinitionCache {
        DefinitionCache {
            workspaces: TtlCache::new(WORKSPACES_HELD, ttl),
        }
    }

    /// The workspace's definitions, ordered by handle, as the listing's JSON body.
    pub async fn listing(
        &self,
        db: &DatabaseConnection,
        workspace_id: &str,
    ) -> Result<Bytes, ObjectsError> {
        if let Some(listing) = self.workspaces.get(workspace_id, Instant::now()) {
            return Ok(listing);
        }
        let generation = self.workspaces.generation();
        let definitions = store::objects::find_definitions(db, workspace_id).await?;
        let listing = ObjectList::render(&definitions)?;
        self.workspaces.insert(
            workspace_id.to_owned(),
            listing.clone(),
            generation,
            Instant::now(),
        );
        Ok(listing)
    }

    /// Call after a change to the workspace's definitions has committed.
    pub fn changed(&self, workspace_id: &str) {
        self.workspaces.evict([workspace_id.to_owned()]);
    }
}
