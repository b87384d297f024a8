//! The policy files as read, and every problem found in them located by file, line and
//! column, so an author can fix them all in one pass.

use std::fmt;
use std::path::{Path, PathBuf};

use miette::Diagnostic;

/// One problem in the policy files, located as precisely as the source allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// Every error found in one load, so an author fixes them all in one pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "{}", lines.join("\n"))
    }
}

/// Where a policy is written, for decisions an auditor can trace back to the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyLocation {
    pub file: PathBuf,
    pub line: usize,
}

pub(super) struct SourceFile {
    pub(super) path: PathBuf,
    pub(super) text: String,
}

pub(super) fn read_source(path: &Path) -> Result<SourceFile, PolicyError> {
    std::fs::read_to_string(path)
        .map(|text| SourceFile {
            path: path.to_path_buf(),
            text,
        })
        .map_err(|e| PolicyError {
            file: path.to_path_buf(),
            line: None,
            column: None,
            message: format!("cannot read: {e}"),
        })
}

pub(super) fn entity_error(file: &SourceFile, id: &str, message: String) -> PolicyError {
    PolicyError {
        file: file.path.clone(),
        line: first_line_containing(&file.text, &format!("\"{id}\"")),
        column: None,
        message,
    }
}

/// A diagnostic's message with its help, located at its first label.
pub(super) fn located(file: &SourceFile, diagnostic: &dyn Diagnostic) -> PolicyError {
    let offset = diagnostic
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| label.offset());
    let (line, column) = match offset {
        Some(offset) => {
            let (line, column) = line_column(&file.text, offset);
            (Some(line), Some(column))
        }
        None => (None, None),
    };
    PolicyError {
        file: file.path.clone(),
        line,
        column,
        message: diagnostic_message(diagnostic),
    }
}

pub(super) fn diagnostic_message(diagnostic: &dyn Diagnostic) -> String {
    let mut message = diagnostic.to_string();
    let mut source = std::error::Error::source(diagnostic);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if let Some(help) = diagnostic.help() {
        message.push_str(&format!(" (help: {help})"));
    }
    message
}

/// 1-based line and column of a byte offset.
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

pub(super) fn first_line_containing(text: &str, needle: &str) -> Option<usize> {
    text.lines()
        .position(|line| line.contains(needle))
        .map(|i| i + 1)
}
