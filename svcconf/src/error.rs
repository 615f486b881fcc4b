//! Typed config errors and warnings. Every message names the file and, where there is one,
//! the line, the section and the keyword.

use std::fmt;
use std::path::PathBuf;

/// A config error: loading stops at the first one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a text file (binary data at line {line})", file.display())]
    NotText { file: PathBuf, line: usize },
    #[error("{}: empty config: no [DEFAULT] section and no resource", file.display())]
    Empty { file: PathBuf },
    #[error("{}:{line}: syntax error: {msg}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        msg: String,
    },
    #[error("{}:{line}: {keyword}: keyword outside of any section", file.display())]
    OutsideSection {
        file: PathBuf,
        line: usize,
        keyword: String,
    },
    #[error("{}:{line}: [{section}] bad section name: expected DEFAULT or <type>#<n>", file.display())]
    BadSectionName {
        file: PathBuf,
        line: usize,
        section: String,
    },
    #[error(
        "{}:{line}: [{section}] unknown resource type '{rtype}' (expected one of: ip, vg, disk, fs, container, app, sync)",
        file.display()
    )]
    UnknownResourceType {
        file: PathBuf,
        line: usize,
        section: String,
        rtype: String,
    },
    /// Every section of a kind svcmgr does not implement, in file order.
    #[error(
        "{}: unsupported resource kinds (svcmgr has no driver for them): {}",
        file.display(),
        sections.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    Unsupported {
        file: PathBuf,
        sections: Vec<Unsupported>,
    },
    #[error("{}:{line}: [{section}] duplicate section (first at line {first})", file.display())]
    DuplicateSection {
        file: PathBuf,
        line: usize,
        section: String,
        first: usize,
    },
    #[error("{}:{line}: [{section}] {keyword}: duplicate keyword (first at line {first})", file.display())]
    DuplicateKeyword {
        file: PathBuf,
        line: usize,
        section: String,
        keyword: String,
        first: usize,
    },
    #[error("{}:{line}: [{section}] {keyword}: missing required keyword", file.display())]
    MissingRequired {
        file: PathBuf,
        line: usize,
        section: String,
        keyword: String,
    },
    #[error("{}:{line}: [{section}] {keyword}: bad value '{value}': {expected}", file.display())]
    BadValue {
        file: PathBuf,
        line: usize,
        section: String,
        keyword: String,
        value: String,
        expected: String,
    },
    #[error("{}:{line}: [{section}] {keyword}: keyword is not scopable", file.display())]
    NotScopable {
        file: PathBuf,
        line: usize,
        section: String,
        keyword: String,
    },
    #[error("{}:{line}: [{section}] {keyword}: conflicts with {other} (line {other_line})", file.display())]
    Conflict {
        file: PathBuf,
        line: usize,
        section: String,
        keyword: String,
        other: String,
        other_line: usize,
    },
    #[error("{}:{line}: [{section}] {keyword}: unknown reference {{{reference}}}", file.display())]
    UnknownReference {
        file: PathBuf,
        line: usize,
        section: String,
        keyword: String,
        reference: String,
    },
    /// A reference OpenSVC computes from something svcmgr has not (`{dns}`, `{clusterid}`).
    #[error("{}:{line}: [{section}] {keyword}: reference {{{reference}}} is OpenSVC's {what}, which svcmgr has not", file.display())]
    UnsupportedReference {
        file: PathBuf,
        line: usize,
        section: String,
        keyword: String,
        reference: String,
        what: String,
    },
    /// `chain` lists the references followed, the last one closing the loop.
    #[error("{}:{line}: [{section}] {keyword}: reference cycle: {chain}", file.display())]
    ReferenceCycle {
        file: PathBuf,
        line: usize,
        section: String,
        keyword: String,
        chain: String,
    },
    #[error("{}:{line}: [{section}] {keyword}: references nested deeper than {max}", file.display())]
    ReferenceDepth {
        file: PathBuf,
        line: usize,
        section: String,
        keyword: String,
        max: usize,
    },
    /// node.toml syntax or type error (the toml message's first line).
    #[error("{}:{line}: {msg}", file.display())]
    NodeSyntax {
        file: PathBuf,
        line: usize,
        msg: String,
    },
    #[error("{}:{line}: {keyword}: bad value '{value}': {expected}", file.display())]
    NodeBadValue {
        file: PathBuf,
        line: usize,
        keyword: String,
        value: String,
        expected: String,
    },
    #[error("{}:{line}: {keyword}: {msg}", file.display())]
    NodeInvalid {
        file: PathBuf,
        line: usize,
        keyword: String,
        msg: String,
    },
}

impl ConfigError {
    pub fn file(&self) -> &std::path::Path {
        use ConfigError::*;
        match self {
            Read { file, .. }
            | NotText { file, .. }
            | Empty { file }
            | Syntax { file, .. }
            | OutsideSection { file, .. }
            | BadSectionName { file, .. }
            | UnknownResourceType { file, .. }
            | DuplicateSection { file, .. }
            | DuplicateKeyword { file, .. }
            | MissingRequired { file, .. }
            | BadValue { file, .. }
            | NotScopable { file, .. }
            | Conflict { file, .. }
            | UnknownReference { file, .. }
            | UnsupportedReference { file, .. }
            | ReferenceCycle { file, .. }
            | ReferenceDepth { file, .. }
            | NodeSyntax { file, .. }
            | NodeBadValue { file, .. }
            | NodeInvalid { file, .. }
            | Unsupported { file, .. } => file,
        }
    }

    pub fn line(&self) -> Option<usize> {
        use ConfigError::*;
        match self {
            Read { .. } | Empty { .. } => None,
            NotText { line, .. }
            | Syntax { line, .. }
            | OutsideSection { line, .. }
            | BadSectionName { line, .. }
            | UnknownResourceType { line, .. }
            | DuplicateSection { line, .. }
            | DuplicateKeyword { line, .. }
            | MissingRequired { line, .. }
            | BadValue { line, .. }
            | NotScopable { line, .. }
            | Conflict { line, .. }
            | UnknownReference { line, .. }
            | UnsupportedReference { line, .. }
            | ReferenceCycle { line, .. }
            | ReferenceDepth { line, .. }
            | NodeSyntax { line, .. }
            | NodeBadValue { line, .. }
            | NodeInvalid { line, .. } => Some(*line),
            Unsupported { sections, .. } => sections.first().map(|s| s.line),
        }
    }

    pub fn section(&self) -> Option<&str> {
        use ConfigError::*;
        match self {
            BadSectionName { section, .. }
            | UnknownResourceType { section, .. }
            | DuplicateSection { section, .. }
            | DuplicateKeyword { section, .. }
            | MissingRequired { section, .. }
            | BadValue { section, .. }
            | NotScopable { section, .. }
            | Conflict { section, .. }
            | UnknownReference { section, .. }
            | UnsupportedReference { section, .. }
            | ReferenceCycle { section, .. }
            | ReferenceDepth { section, .. } => Some(section),
            _ => None,
        }
    }

    pub fn keyword(&self) -> Option<&str> {
        use ConfigError::*;
        match self {
            OutsideSection { keyword, .. }
            | DuplicateKeyword { keyword, .. }
            | MissingRequired { keyword, .. }
            | BadValue { keyword, .. }
            | NotScopable { keyword, .. }
            | Conflict { keyword, .. }
            | UnknownReference { keyword, .. }
            | UnsupportedReference { keyword, .. }
            | ReferenceCycle { keyword, .. }
            | ReferenceDepth { keyword, .. }
            | NodeBadValue { keyword, .. }
            | NodeInvalid { keyword, .. } => Some(keyword),
            _ => None,
        }
    }
}

/// A section of a kind svcmgr does not implement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub line: usize,
    pub section: String,
    /// `app`, `ip type = netns`...
    pub kind: String,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} [{}] {}", self.line, self.section, self.kind)
    }
}

/// Something ignored while loading; loading goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub file: PathBuf,
    pub line: usize,
    pub section: Option<String>,
    pub keyword: Option<String>,
    pub msg: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.line)?;
        if let Some(s) = &self.section {
            write!(f, "[{s}] ")?;
        }
        if let Some(k) = &self.keyword {
            write!(f, "{k}: ")?;
        }
        f.write_str(&self.msg)
    }
}
