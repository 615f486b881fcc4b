//! Phase 2a: which text a keyword has on this node. Scoping (`kw@node`), DEFAULT inheritance,
//! table defaults and `{...}` references.

use std::path::Path;

use crate::error::ConfigError;
use crate::ini::Entry;
use crate::keywords::{self, Keyword, Section};
use crate::model::{Group, Value};
use crate::values;
use crate::Site;

/// Longest chain of references followed before giving up.
pub(crate) const MAX_DEPTH: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    Plain,
    Node(String),
    Nodes,
    Drpnodes,
    /// Nodes of encapsulated services (OpenSVC's VMs and containers run as nodes): never
    /// this agent, so such values are not used.
    Encapnodes,
}

impl Scope {
    pub(crate) fn parse(key: &str) -> (&str, Scope) {
        match key.split_once('@') {
            None => (key, Scope::Plain),
            Some((base, "nodes")) => (base, Scope::Nodes),
            Some((base, "drpnodes")) => (base, Scope::Drpnodes),
            Some((base, "encapnodes")) => (base, Scope::Encapnodes),
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
    /// None for DEFAULT and [env].
    pub group: Option<Group>,
    /// The `[env]` section: free keys, used through `{env.key}` references.
    pub env: bool,
    /// A `[subset#<group>:<name>]` section.
    pub subset: bool,
    pub rtype: Option<String>,
    pub ents: Vec<Ent<'a>>,
}

impl Sec<'_> {
    pub(crate) fn section(&self) -> Section {
        match self.group {
            Some(g) => Section::Group(g),
            None if self.env => Section::Env,
            None if self.subset => Section::Subset,
            None => Section::Default,
        }
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
    pub site: &'a Site,
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
            if out.ends_with('$') {
                // Shell syntax (`${HOME}` in a command line) is not a reference.
                out.push('{');
                rest = &at[1..];
                continue;
            }
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
        let parsed = RefName::parse(name).ok_or_else(err_unknown)?;
        let text = match self.builtin(parsed.base, here.name) {
            Some(v) => v,
            None => match self.keyword_ref(parsed.base, raw, stack)? {
                Some(v) => v,
                None => {
                    return Err(match unsupported_reference(parsed.base) {
                        Some(what) => ConfigError::UnsupportedReference {
                            file: self.file.into(),
                            line: raw.line,
                            section: here.name.into(),
                            keyword: raw.key.into(),
                            reference: name.into(),
                            what: what.into(),
                        },
                        None => err_unknown(),
                    })
                }
            },
        };
        parsed.apply(&text).ok_or_else(err_unknown)
    }

    /// The references OpenSVC computes rather than reads (`{nodename}`, `{fqdn}`...).
    fn builtin(&self, name: &str, section: &str) -> Option<String> {
        let site = self.site;
        let ns = site.namespace.as_deref().unwrap_or("root");
        let cluster = site.clustername.as_deref().unwrap_or("default");
        let short = |s: &str| s.split('.').next().unwrap_or(s).to_string();
        let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
        Some(match name {
            "nodename" => self.nodename.into(),
            "short_nodename" => short(self.nodename),
            "svcname" | "name" => self.svcname.into(),
            "short_svcname" | "short_name" => short(self.svcname),
            // Services of the root namespace have their name as their path.
            "svcpath" | "path" if ns == "root" => self.svcname.into(),
            "svcpath" | "path" => format!("{ns}/svc/{}", self.svcname),
            "namespace" => ns.into(),
            "kind" => "svc".into(),
            "rid" => section.into(),
            "rindex" => section.rsplit('#').next().unwrap_or(section).into(),
            "clustername" => cluster.into(),
            "clusternodes" => site.clusternodes(self.nodename).join(" "),
            "fqdn" => format!("{}.{ns}.svc.{cluster}", self.svcname),
            "domain" => format!("{ns}.svc.{cluster}"),
            "var" => return path(&site.var),
            "private_var" => return path(&site.private_var),
            _ => return None,
        })
    }

    /// `{section.keyword}`, or `{keyword}`: the current section's, then DEFAULT's (as
    /// OpenSVC). None when there is no such value.
    fn keyword_ref(
        &self,
        name: &str,
        raw: &Raw<'_>,
        stack: &mut Vec<String>,
    ) -> Result<Option<String>, ConfigError> {
        let candidates: Vec<(usize, &str)> = match name.split_once('.') {
            Some((sname, opt)) => match self.secs.iter().position(|s| s.name == sname) {
                Some(t) => vec![(t, opt)],
                None => vec![],
            },
            None if raw.sec != self.default => vec![(raw.sec, name), (self.default, name)],
            None => vec![(self.default, name)],
        };
        for (target, opt) in candidates {
            if let Some(text) = self.follow(target, opt, raw, stack)? {
                return Ok(Some(text));
            }
        }
        Ok(None)
    }

    /// The text `opt` of section `sec` has on this node, references expanded; None when
    /// unset (or scoped to other nodes only).
    pub(crate) fn eval(&self, sec: usize, opt: &str) -> Result<Option<String>, ConfigError> {
        let here = Raw {
            text: "",
            line: self.secs[sec].line,
            sec,
            key: opt,
        };
        self.follow(sec, opt, &here, &mut Vec::new())
    }

    fn follow(
        &self,
        target: usize,
        opt: &str,
        raw: &Raw<'_>,
        stack: &mut Vec<String>,
    ) -> Result<Option<String>, ConfigError> {
        let here = &self.secs[raw.sec];
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
        let Some(next) = next else {
            return Ok(None);
        };
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
        Ok(Some(text.trim().into()))
    }
}

/// A reference's name split into OpenSVC's forms: `{upper:x}` (a modifier), `{#x}` (the
/// number of words), `{x[1]}` (one word).
/// The references OpenSVC computes from what svcmgr has not: what they are.
fn unsupported_reference(base: &str) -> Option<&'static str> {
    Some(match base {
        "clusterid" => "cluster id (node.conf cluster.id; node.toml has none)",
        "clusterdrpnodes" => "cluster drpnodes (node.conf cluster.drpnodes)",
        "dns" | "dnsnodes" | "dnsuxsock" | "dnsuxsockd" => "cluster DNS",
        "collector_api" => "collector",
        "scaler_name" | "scaler_short_name" => "scaler",
        _ => return None,
    })
}

struct RefName<'a> {
    base: &'a str,
    modifier: Option<&'a str>,
    count: bool,
    index: Option<usize>,
}

const MODIFIERS: &[&str] = &[
    "upper",
    "lower",
    "capitalize",
    "title",
    "swapcase",
    "uri_ip",
];

impl<'a> RefName<'a> {
    fn parse(name: &'a str) -> Option<RefName<'a>> {
        let (count, mut rest) = match name.strip_prefix('#') {
            Some(r) => (true, r),
            None => (false, name),
        };
        let mut modifier = None;
        if let Some((m, r)) = rest.split_once(':') {
            if !MODIFIERS.contains(&m) {
                return None;
            }
            modifier = Some(m);
            rest = r;
        }
        let mut index = None;
        if let Some(open) = rest.find('[') {
            let i = rest[open + 1..].strip_suffix(']')?;
            index = Some(i.parse().ok()?);
            rest = &rest[..open];
        }
        let ok = !rest.is_empty() && !rest.starts_with('.') && !rest.ends_with('.');
        ok.then_some(RefName {
            base: rest,
            modifier,
            count,
            index,
        })
    }

    /// The text after `#`, `[i]` and the modifier; None when the index is out of range.
    fn apply(&self, text: &str) -> Option<String> {
        let mut v = text.to_string();
        if self.count {
            v = text.split_whitespace().count().to_string();
        } else if let Some(i) = self.index {
            v = text.split_whitespace().nth(i)?.to_string();
        }
        Some(match self.modifier {
            None => v,
            Some("upper") => v.to_uppercase(),
            Some("lower") => v.to_lowercase(),
            Some("capitalize") => capitalize(&v),
            Some("title") => v.split(' ').map(capitalize).collect::<Vec<_>>().join(" "),
            Some("swapcase") => v
                .chars()
                .map(|c| {
                    if c.is_uppercase() {
                        c.to_lowercase().collect::<String>()
                    } else {
                        c.to_uppercase().collect()
                    }
                })
                .collect(),
            // uri_ip: brackets around an IPv6 address, as in a URL.
            Some(_) if v.contains(':') => format!("[{v}]"),
            Some(_) => v,
        })
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f
            .to_uppercase()
            .chain(c.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
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
            .all(|c| c.is_ascii_alphanumeric() || "_#.@-[]:".contains(c));
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
