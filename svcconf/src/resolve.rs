//! Phase 2a: which text a keyword has on this node. Scoping (`kw@node`), DEFAULT inheritance,
//! table defaults and `{...}` references.

use std::path::Path;

use crate::error::ConfigError;
use crate::ini::Entry;
use crate::keywords::{self, Keyword, Section};
use crate::model::{Group, Value};
use crate::values;

/// Longest chain of references followed before giving up.
pub(crate) const MAX_DEPTH: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    Plain,
    Node(String),
    Nodes,
    Drpnodes,
}

impl Scope {
    pub(crate) fn parse(key: &str) -> (&str, Scope) {
        match key.split_once('@') {
            None => (key, Scope::Plain),
            Some((base, "nodes")) => (base, Scope::Nodes),
            Some((base, "drpnodes")) => (base, Scope::Drpnodes),
            Some((base, node)) => (base, Scope::Node(node.into())),
        }
    }
}

pub(crate) struct Ent<'a> {
    pub e: &'a Entry,
    /// The key without its scope, as written.
    pub base: &'a str,
    /// None: unknown keyword (warned about, still usable in references).
    pub kw: Option<&'static Keyword>,
    pub scope: Scope,
}

pub(crate) struct Sec<'a> {
    pub name: &'a str,
    pub line: usize,
    /// None for DEFAULT.
    pub group: Option<Group>,
    pub rtype: Option<String>,
    pub ents: Vec<Ent<'a>>,
}

impl Sec<'_> {
    pub(crate) fn section(&self) -> Section {
        self.group.map_or(Section::Default, Section::Group)
    }
}

/// A keyword's text before expansion, and where it was written.
pub(crate) struct Raw<'a> {
    pub text: &'a str,
    pub line: usize,
    /// Index of the section it was written in (DEFAULT when inherited).
    pub sec: usize,
    /// The key as written (the keyword name for a table default).
    pub key: &'a str,
}

/// A checked, typed keyword value.
pub(crate) struct Resolved {
    pub value: Value,
    /// The expanded text.
    pub text: String,
    pub line: usize,
    pub sec: usize,
    pub key: String,
}

pub(crate) struct Resolver<'a> {
    pub file: &'a Path,
    pub svcname: &'a str,
    pub nodename: &'a str,
    pub nodes: Vec<String>,
    pub drpnodes: Vec<String>,
    pub secs: Vec<Sec<'a>>,
    /// Index of the DEFAULT section (a synthetic empty one when the file has none).
    pub default: usize,
}

impl<'a> Resolver<'a> {
    /// The entry this node uses among `candidates`: `@nodename` > `@nodes` > `@drpnodes` > plain.
    fn pick<'s>(&self, candidates: impl Iterator<Item = &'s Ent<'a>>) -> Option<&'s Ent<'a>>
    where
        'a: 's,
    {
        let rank = |s: &Scope| match s {
            Scope::Node(n) if n == self.nodename => Some(0),
            Scope::Nodes if self.nodes.iter().any(|n| n == self.nodename) => Some(1),
            Scope::Drpnodes if self.drpnodes.iter().any(|n| n == self.nodename) => Some(2),
            Scope::Plain => Some(3),
            _ => None,
        };
        candidates
            .filter_map(|e| rank(&e.scope).map(|r| (r, e)))
            .min_by_key(|(r, _)| *r)
            .map(|(_, e)| e)
    }

    /// The section's own entry for `kw` on this node; an empty value counts as unset unless
    /// the keyword is required (then it fails the value check).
    fn own(&self, sec: usize, kw: &Keyword) -> Option<Raw<'a>> {
        let ents = self.secs[sec].ents.iter();
        let e = self.pick(ents.filter(|e| e.kw.is_some_and(|k| k.name == kw.name)))?;
        (kw.required || !e.e.value.trim().is_empty()).then(|| Raw {
            text: &e.e.value,
            line: e.e.line,
            sec,
            key: &e.e.key,
        })
    }

    /// Own value > DEFAULT's (inheritable keywords of resources) > table default.
    pub(crate) fn raw(&self, sec: usize, kw: &'static Keyword) -> Option<Raw<'a>> {
        if let Some(r) = self.own(sec, kw) {
            return Some(r);
        }
        if kw.inherit && self.secs[sec].group.is_some() {
            if let Some(r) = self.own(self.default, kw) {
                return Some(r);
            }
        }
        kw.default.map(|d| Raw {
            text: d,
            line: 0,
            sec,
            key: kw.name,
        })
    }

    /// The typed value of `kw` in section `sec`, None when unset and without default.
    pub(crate) fn value(
        &self,
        sec: usize,
        kw: &'static Keyword,
    ) -> Result<Option<Resolved>, ConfigError> {
        let Some(raw) = self.raw(sec, kw) else {
            return Ok(None);
        };
        let text = self.expand(&raw, &mut vec![self.ref_key(sec, kw.name)])?;
        let value = values::convert(kw.kind, &text).map_err(|()| ConfigError::BadValue {
            file: self.file.into(),
            line: raw.line,
            section: self.secs[raw.sec].name.into(),
            keyword: raw.key.into(),
            value: text.trim().into(),
            expected: kw.kind.expected(),
        })?;
        Ok(Some(Resolved {
            value,
            text,
            line: raw.line,
            sec: raw.sec,
            key: raw.key.into(),
        }))
    }

    fn ref_key(&self, sec: usize, kw: &str) -> String {
        format!("{}.{}", self.secs[sec].name, kw)
    }

    /// Expand the references in `raw.text`; `stack` holds the `section.keyword`s being expanded.
    fn expand(&self, raw: &Raw<'_>, stack: &mut Vec<String>) -> Result<String, ConfigError> {
        let mut out = String::new();
        let mut rest = raw.text;
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let at = &rest[i..];
            if at.starts_with("{{") {
                // Template braces (`{{.Name}}`) are not references: copy through the closing "}}".
                let end = at.find("}}").map_or(2, |e| e + 2);
                out.push_str(&at[..end]);
                rest = &at[end..];
                continue;
            }
            match reference_at(at) {
                Some(name) => {
                    out.push_str(&self.reference(name, raw, stack)?);
                    rest = &at[name.len() + 2..];
                }
                None => {
                    out.push('{');
                    rest = &at[1..];
                }
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    fn reference(
        &self,
        name: &str,
        raw: &Raw<'_>,
        stack: &mut Vec<String>,
    ) -> Result<String, ConfigError> {
        let here = &self.secs[raw.sec];
        let err_unknown = || ConfigError::UnknownReference {
            file: self.file.into(),
            line: raw.line,
            section: here.name.into(),
            keyword: raw.key.into(),
            reference: name.into(),
        };
        match name {
            "svcname" => return Ok(self.svcname.into()),
            "nodename" => return Ok(self.nodename.into()),
            "rid" => return Ok(here.name.into()),
            _ => {}
        }
        let (sname, opt) = name.split_once('.').ok_or_else(err_unknown)?;
        let target = self
            .secs
            .iter()
            .position(|s| s.name == sname)
            .ok_or_else(err_unknown)?;
        let tsec = &self.secs[target];
        let (canonical, next) = match keywords::lookup(tsec.section(), tsec.rtype.as_deref(), opt) {
            Some(kw) => (kw.name, self.raw(target, kw)),
            None => {
                let e = self.pick(tsec.ents.iter().filter(|e| e.base == opt));
                let raw = e.map(|e| Raw {
                    text: &e.e.value,
                    line: e.e.line,
                    sec: target,
                    key: &e.e.key,
                });
                (opt, raw)
            }
        };
        let next = next.ok_or_else(err_unknown)?;
        let key = self.ref_key(target, canonical);
        if stack.contains(&key) {
            stack.push(key);
            return Err(ConfigError::ReferenceCycle {
                file: self.file.into(),
                line: raw.line,
                section: here.name.into(),
                keyword: raw.key.into(),
                chain: stack.join(" -> "),
            });
        }
        if stack.len() > MAX_DEPTH {
            return Err(ConfigError::ReferenceDepth {
                file: self.file.into(),
                line: raw.line,
                section: here.name.into(),
                keyword: raw.key.into(),
                max: MAX_DEPTH,
            });
        }
        stack.push(key);
        let text = self.expand(&next, stack)?;
        stack.pop();
        Ok(text.trim().into())
    }
}

/// The name of the reference `at` starts with (`{fs#1.mnt}` -> `fs#1.mnt`), if it is one.
fn reference_at(at: &str) -> Option<&str> {
    let body = &at[1..at.find('}')?];
    let ok = !body.is_empty()
        && !body.starts_with('.')
        && !body.ends_with('.')
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_#.@-".contains(c));
    ok.then_some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_syntax() {
        assert_eq!(reference_at("{svcname}x"), Some("svcname"));
        assert_eq!(reference_at("{fs#1.mnt} b"), Some("fs#1.mnt"));
        assert_eq!(reference_at("{ x }"), None);
        assert_eq!(reference_at("{.Name}"), None);
        assert_eq!(reference_at("{a.}"), None);
        assert_eq!(reference_at("{}"), None);
        assert_eq!(reference_at("{abc"), None);
        assert_eq!(reference_at("{a/b}"), None);
    }

    #[test]
    fn scopes() {
        assert_eq!(Scope::parse("ipname"), ("ipname", Scope::Plain));
        assert_eq!(Scope::parse("ipname@nodes"), ("ipname", Scope::Nodes));
        assert_eq!(Scope::parse("ipname@drpnodes"), ("ipname", Scope::Drpnodes));
        assert_eq!(
            Scope::parse("ipname@n1"),
            ("ipname", Scope::Node("n1".into()))
        );
    }
}
