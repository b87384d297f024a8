//! The actions Andi asks Cedar about, one per business verb. Each must be declared in
//! `policies/schema.cedarschema`; loading a policy set fails if one is missing.

/// An action of the `Andi` namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ReadSelf,
    ReadWorkspace,
    ListObjects,
    CreateObject,
    GetObject,
    UpdateObject,
    DeleteObject,
    QueryRecords,
    GetRecord,
    UpsertRecords,
    PatchRecords,
    DeleteRecords,
    ListWorkspaces,
    CreateWorkspace,
    ViewWorkspace,
    ListMembers,
    ListApiKeys,
    AddMember,
    CreateApiKey,
    RevokeApiKey,
    RotateApiKey,
}

impl Action {
    pub const ALL: [Action; 21] = [
        Action::ReadSelf,
        Action::ReadWorkspace,
        Action::ListObjects,
        Action::CreateObject,
        Action::GetObject,
        Action::UpdateObject,
        Action::DeleteObject,
        Action::QueryRecords,
        Action::GetRecord,
        Action::UpsertRecords,
        Action::PatchRecords,
        Action::DeleteRecords,
        Action::ListWorkspaces,
        Action::CreateWorkspace,
        Action::ViewWorkspace,
        Action::ListMembers,
        Action::ListApiKeys,
        Action::AddMember,
        Action::CreateApiKey,
        Action::RevokeApiKey,
        Action::RotateApiKey,
    ];

    /// The action's id in the schema: `Andi::Action::"<id>"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ReadSelf => "readSelf",
            Action::ReadWorkspace => "readWorkspace",
            Action::ListObjects => "listObjects",
            Action::CreateObject => "createObject",
            Action::GetObject => "getObject",
            Action::UpdateObject => "updateObject",
            Action::DeleteObject => "deleteObject",
            Action::QueryRecords => "queryRecords",
            Action::GetRecord => "getRecord",
            Action::UpsertRecords => "upsertRecords",
            Action::PatchRecords => "patchRecords",
            Action::DeleteRecords => "deleteRecords",
            Action::ListWorkspaces => "listWorkspaces",
            Action::CreateWorkspace => "createWorkspace",
            Action::ViewWorkspace => "viewWorkspace",
            Action::ListMembers => "listMembers",
            Action::ListApiKeys => "listApiKeys",
            Action::AddMember => "addMember",
            Action::CreateApiKey => "createApiKey",
            Action::RevokeApiKey => "revokeApiKey",
            Action::RotateApiKey => "rotateApiKey",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::str::FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown action `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_matches_position_in_all() {
        for (i, action) in Action::ALL.into_iter().enumerate() {
            assert_eq!(action.index(), i);
        }
    }
}
