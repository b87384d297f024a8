//! What is wrong with a request's input, located by JSON path: the vocabulary every parser
//! and validator answers in, whatever interface the input came through.

use serde::Serialize;

/// One problem in a request body, located by its JSON path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    pub path: Vec<PathSegment>,
    pub message: String,
}

/// A step of a JSON path: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

impl From<&str> for PathSegment {
    fn from(key: &str) -> Self {
        PathSegment::Key(key.to_owned())
    }
}

impl From<String> for PathSegment {
    fn from(key: String) -> Self {
        PathSegment::Key(key)
    }
}

impl From<usize> for PathSegment {
    fn from(index: usize) -> Self {
        PathSegment::Index(index)
    }
}

impl Issue {
    pub fn new(path: Vec<PathSegment>, message: impl Into<String>) -> Issue {
        Issue {
            path,
            message: message.into(),
        }
    }
}

/// Collects issues while walking a JSON body.
pub struct Issues(Vec<Issue>);

impl Issues {
    pub fn new() -> Issues {
        Issues(Vec::new())
    }

    pub fn push(&mut self, path: &[PathSegment], message: impl Into<String>) {
        self.0.push(Issue::new(path.to_vec(), message));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn into_vec(self) -> Vec<Issue> {
        self.0
    }
}

impl Default for Issues {
    fn default() -> Self {
        Issues::new()
    }
}
