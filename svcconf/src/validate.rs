//! Phase 2: tokenized sections -> `ServiceConfig`, checked against the keyword table.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::error::{ConfigError, ConfigWarning};
use crate::ini::RawSection;
use crate::keywords::{self, Keyword, Section};
use crate::model::*;
use crate::resolve::{Ent, Resolved, Resolver, Scope, Sec};
use crate::values;
use crate::{Loaded, Site};

pub(crate) fn validate(
    file: &Path,
    site: &Site,
    text: String,
    raws: &[RawSection],
) -> Result<Loaded, ConfigError> {
    let mut warnings = Vec::new();
    let r = resolver(file, site, raws, &mut warnings)?;
    let (svcname, default) = (site.svcname.as_str(), r.default);
    let (mut resources, mut syncs, mut subsets) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..r.secs.len() {
        match r.secs[i].group {
            Some(Group::Sync) => syncs.push(resource(&r, i, Group::Sync)?),
            Some(group) => resources.push(resource(&r, i, group)?),
            None if r.secs[i].subset => {
                let sec = &r.secs[i];
                let (group, name) = subset_of_section(sec.name).expect("checked with the section");
                let parallel = matches!(
                    r.value(i, kw(Section::Subset, "parallel"))?
                        .map(|v| v.value),
                    Some(Value::Bool(true))
                );
                subsets.push(SubsetConfig {
                    group,
                    name: name.to_string(),
                    parallel,
                    line: sec.line,
                });
            }
            None => {}
        }
    }
    check_shared_namespaces(file, &resources)?;
    let mut defaults = BTreeMap::new();
    for k in keywords::for_section(Section::Default, None) {
        if let Some(v) = r.value(default, k)? {
            defaults.insert(
                k.name.to_string(),
                Setting {
                    value: v.value,
                    line: v.line,
                },
            );
        }
    }
    let text_of = |name: &str| match defaults.get(name) {
        Some(Setting {
            value: Value::Str(s),
            ..
        }) => Some(s.clone()),
        _ => None,
    };
    let orchestrate = match text_of("orchestrate").as_deref() {
        Some("start") => Orchestrate::Start,
        Some("ha") => Orchestrate::Ha,
        _ => Orchestrate::No,
    };
    // Checked by the kind already; the table default is valid (keywords tests).
    let sync_period = text_of("sync_period")
        .and_then(|s| values::parse_windows(&s))
        .unwrap_or_default();
    let config = ServiceConfig {
        name: svcname.into(),
        path: file.into(),
        text,
        nodes: r.nodes.clone(),
        drpnodes: r.drpnodes.clone(),
        autostart_node: text_of("autostart_node"),
        orchestrate,
        sync_period,
        defaults,
        resources,
        syncs,
        subsets,
    };
    warnings.extend(crate::store::check(&config, file)?);
    Ok(Loaded { config, warnings })
}

/// Check every section's name and keys and read nodes and drpnodes: what evaluating any
/// keyword needs.
fn resolver<'a>(
    file: &'a Path,
    site: &'a Site,
    raws: &'a [RawSection],
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Resolver<'a>, ConfigError> {
    let mut secs = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    crate::kinds::check(file, raws)?;
    for raw in raws {
        if crate::kinds::is_internal_sync(raw) {
            warnings.push(ConfigWarning {
                file: file.into(),
                line: raw.line,
                section: Some(raw.name.clone()),
                keyword: None,
                msg: "svcmgr's config sync is built in: this section's keywords are not used"
                    .into(),
            });
            continue;
        }
        if let Some(first) = seen.get(raw.name.as_str()) {
            return Err(ConfigError::DuplicateSection {
                file: file.into(),
                line: raw.line,
                section: raw.name.clone(),
                first: *first,
            });
        }
        seen.insert(&raw.name, raw.line);
        secs.push(section(file, raw, warnings)?);
    }
    let (svcname, nodename) = (site.svcname.as_str(), site.nodename.as_str());
    let default = match secs.iter().position(|s| s.section() == Section::Default) {
        Some(d) => d,
        None => {
            secs.push(Sec {
                name: "DEFAULT",
                line: 0,
                group: None,
                env: false,
                subset: false,
                rtype: None,
                ents: Vec::new(),
            });
            secs.len() - 1
        }
    };
    let mut r = Resolver {
        file,
        site,
        svcname,
        nodename,
        nodes: Vec::new(),
        drpnodes: Vec::new(),
        secs,
        default,
    };
    // nodes and drpnodes decide scoping, so they are read first (they are not scopable).
    // `nodes = *`: every node of the cluster, as in OpenSVC.
    r.nodes = match r.value(default, kw(Section::Default, "nodes"))? {
        Some(Resolved {
            value: Value::List(v),
            ..
        }) if v == ["*"] => site.clusternodes(nodename),
        Some(Resolved {
            value: Value::List(v),
            ..
        }) if !v.is_empty() => v,
        _ => vec![nodename.to_string()],
    };
    r.drpnodes = match r.value(default, kw(Section::Default, "drpnodes"))? {
        Some(Resolved {
            value: Value::List(v),
            ..
        }) => v,
        _ => Vec::new(),
    };
    Ok(r)
}

/// The text keyword `opt` (a table name or alias, or a key of the user's) of section
/// `section` has on this node: scoping, inheritance, table default and references applied.
/// None when unset, or when the section does not exist.
pub(crate) fn evaluate_one(
    file: &Path,
    site: &Site,
    raws: &[RawSection],
    section: &str,
    opt: &str,
) -> Result<Option<String>, ConfigError> {
    let r = resolver(file, site, raws, &mut Vec::new())?;
    match r.secs.iter().position(|s| s.name == section) {
        Some(i) => r.eval(i, opt),
        None => Ok(None),
    }
}

/// Per section in file order, each keyword written in it (by its table name, scopes merged)
/// with the text it has on this node after scoping and references.
pub(crate) fn evaluate(
    file: &Path,
    site: &Site,
    raws: &[RawSection],
) -> Result<crate::Evaluated, ConfigError> {
    let r = resolver(file, site, raws, &mut Vec::new())?;
    let mut out = Vec::new();
    for (i, sec) in r.secs.iter().enumerate() {
        if sec.line == 0 {
            continue; // the synthetic DEFAULT of a file without one
        }
        let mut names: Vec<&str> = Vec::new();
        for e in &sec.ents {
            let name = e.kw.map_or(e.base, |k| k.name);
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let mut kws = Vec::new();
        for name in names {
            if let Some(text) = r.eval(i, name)? {
                kws.push((name.to_string(), text));
            }
        }
        out.push((sec.name.to_string(), kws));
    }
    Ok(out)
}

fn kw(section: Section, name: &str) -> &'static Keyword {
    keywords::lookup(section, None, name).expect("keyword in the table")
}

/// `subset#container.docker:web` -> (Group::Container, "web"); None when malformed.
fn subset_of_section(name: &str) -> Option<(Group, &str)> {
    let (kind, set) = name.strip_prefix("subset#")?.split_once(':')?;
    let group = kind.split('.').next()?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    };
    if !ok(set) {
        return None;
    }
    Some((Group::from_name(group)?, set))
}

/// Check a section's name and keys (known, scopable, not repeated).
fn section<'a>(
    file: &Path,
    raw: &'a RawSection,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Sec<'a>, ConfigError> {
    let name = raw.name.as_str();
    let env = name == "env";
    let subset = name.starts_with("subset#");
    if subset && subset_of_section(name).is_none() {
        return Err(ConfigError::BadSectionName {
            file: file.into(),
            line: raw.line,
            section: name.into(),
        });
    }
    let (group, rtype) = if name == "DEFAULT" || env || subset {
        (None, None)
    } else {
        let (prefix, rtype) = resource_kind(file, raw)?;
        (Some(prefix), rtype)
    };
    let mut sec = Sec {
        name,
        line: raw.line,
        group,
        env,
        subset,
        rtype,
        ents: Vec::new(),
    };
    let mut first: HashMap<(&str, Scope), usize> = HashMap::new();
    // A keyword (with its scope) set twice in a section is an error naming both lines.
    let once =
        |first: &mut HashMap<(&'a str, Scope), usize>,
         key: &'a str,
         scope: &Scope,
         e: &crate::ini::Entry| match first.insert((key, scope.clone()), e.line) {
            Some(f) => Err(ConfigError::DuplicateKeyword {
                file: file.into(),
                line: e.line,
                section: name.into(),
                keyword: e.key.clone(),
                first: f,
            }),
            None => Ok(()),
        };
    let warn = |e: &crate::ini::Entry, msg: String| ConfigWarning {
        file: file.into(),
        line: e.line,
        section: Some(name.into()),
        keyword: Some(e.key.clone()),
        msg,
    };
    for e in &raw.entries {
        warn_swallowed_keywords(file, &sec, e, warnings);
        let (base, scope) = Scope::parse(&e.key);
        if scope == Scope::Encapnodes {
            warnings.push(warn(e, "ignored: svcmgr has no encapsulated nodes".into()));
        }
        if env {
            // [env] keys are the user's own: no table, only references.
            once(&mut first, base, &scope, e)?;
            sec.ents.push(Ent {
                e,
                base,
                kw: None,
                scope,
            });
            continue;
        }
        let Some(k) = keywords::lookup(sec.section(), sec.rtype.as_deref(), base) else {
            warnings.push(warn(e, "unknown keyword, ignored".into()));
            sec.ents.push(Ent {
                e,
                base,
                kw: None,
                scope,
            });
            continue;
        };
        if let Some((_, new)) = keywords::DEPRECATED.iter().find(|(old, _)| *old == base) {
            warnings.push(warn(e, format!("deprecated name, read as {new}")));
        }
        if let Some((_, note)) = keywords::NOTED.iter().find(|(old, _)| *old == base) {
            warnings.push(warn(e, note.to_string()));
        }
        if scope != Scope::Plain && !k.scopable {
            return Err(ConfigError::NotScopable {
                file: file.into(),
                line: e.line,
                section: name.into(),
                keyword: base.into(),
            });
        }
        once(&mut first, k.name, &scope, e)?;
        sec.ents.push(Ent {
            e,
            base,
            kw: Some(k),
            scope,
        });
    }
    Ok(sec)
}

/// An indented `known_keyword = ...` line continues the value above (configparser's rule):
/// say so, since the keyword is then not set. `FOO=bar` lines of `environment` stay silent.
fn warn_swallowed_keywords(
    file: &Path,
    sec: &Sec<'_>,
    e: &crate::ini::Entry,
    warnings: &mut Vec<ConfigWarning>,
) {
    for (line, text) in &e.continued {
        let Some(at) = text.find(['=', ':']) else {
            continue;
        };
        let (base, _) = Scope::parse(text[..at].trim());
        if keywords::lookup(sec.section(), sec.rtype.as_deref(), base).is_some() {
            warnings.push(ConfigWarning {
                file: file.into(),
                line: *line,
                section: Some(sec.name.into()),
                keyword: Some(e.key.clone()),
                msg: format!(
                    "indented line '{text}' continues this value (from line {}); \
                     remove its indentation to set {base}",
                    e.line
                ),
            });
        }
    }
}

/// `<group>#<id>` -> the group and the `type` written in the section.
fn resource_kind(file: &Path, raw: &RawSection) -> Result<(Group, Option<String>), ConfigError> {
    let name = raw.name.as_str();
    let word = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    let Some((prefix, _)) = name.split_once('#').filter(|(p, id)| word(p) && word(id)) else {
        return Err(ConfigError::BadSectionName {
            file: file.into(),
            line: raw.line,
            section: name.into(),
        });
    };
    // A loop disk is `[disk#N] type = loop`, as in OpenSVC: `loop` is no section prefix.
    let Some(mut group) = Group::from_name(prefix).filter(|g| *g != Group::Loop) else {
        return Err(ConfigError::UnknownResourceType {
            file: file.into(),
            line: raw.line,
            section: name.into(),
            rtype: prefix.into(),
        });
    };
    let rtype = raw
        .entries
        .iter()
        .find(|e| e.key == "type")
        .map(|e| e.value.trim().to_string());
    // A sync without type is rsync, as in OpenSVC.
    if prefix == "disk" && rtype.is_none() {
        return Err(ConfigError::MissingRequired {
            file: file.into(),
            line: raw.line,
            section: name.into(),
            keyword: "type".into(),
        });
    }
    if prefix == "disk" && rtype.as_deref() == Some("loop") {
        group = Group::Loop;
    }
    Ok((group, rtype))
}

fn resource(r: &Resolver<'_>, i: usize, group: Group) -> Result<ResourceConfig, ConfigError> {
    let sec = &r.secs[i];
    let mut got: BTreeMap<&'static str, Resolved> = BTreeMap::new();
    for k in keywords::for_section(sec.section(), sec.rtype.as_deref()) {
        match r.value(i, k)? {
            Some(v) => {
                got.insert(k.name, v);
            }
            None if k.required => {
                return Err(ConfigError::MissingRequired {
                    file: r.file.into(),
                    line: sec.line,
                    section: sec.name.into(),
                    keyword: k.name.into(),
                });
            }
            None => {}
        }
    }
    let bad = |v: &Resolved, expected: &str| ConfigError::BadValue {
        file: r.file.into(),
        line: v.line,
        section: r.secs[v.sec].name.into(),
        keyword: v.key.clone(),
        value: v.text.trim().into(),
        expected: expected.into(),
    };
    let mut common = Common::default();
    let mut settings = BTreeMap::new();
    let mut rtype = None;
    let mut always_on = false;
    for (name, v) in &got {
        match (*name, &v.value) {
            ("type", Value::Str(s)) => rtype = Some(s.clone()),
            ("optional", Value::Bool(b)) => common.optional = *b,
            ("disable", Value::Bool(b)) => common.disable = *b,
            ("monitor", Value::Bool(b)) => common.monitor = *b,
            ("standby", Value::Bool(b)) => common.standby = *b,
            ("restart", Value::Int(n)) => {
                common.restart =
                    u32::try_from(*n).map_err(|_| bad(v, "expected a non-negative integer"))?
            }
            ("tags", Value::List(t)) => common.tags = t.clone(),
            ("always_on", Value::List(words)) => {
                let here = r.nodename.to_string();
                let on = words.iter().any(|w| match w.as_str() {
                    "nodes" => r.nodes.contains(&here),
                    "drpnodes" => r.drpnodes.contains(&here),
                    n => n == here,
                });
                always_on = on;
            }
            (n, _) if trigger_slot(n).is_some() => {}
            _ => {
                settings.insert(
                    name.to_string(),
                    Setting {
                        value: v.value.clone(),
                        line: v.line,
                    },
                );
            }
        }
    }
    common.standby |= always_on;
    for action in ["pre_start", "post_start", "pre_stop", "post_stop"] {
        let blocking_name = format!("blocking_{action}");
        let t = match (got.get(action), got.get(blocking_name.as_str())) {
            (Some(p), Some(b)) => {
                return Err(ConfigError::Conflict {
                    file: r.file.into(),
                    line: b.line,
                    section: r.secs[b.sec].name.into(),
                    keyword: b.key.clone(),
                    other: p.key.clone(),
                    other_line: p.line,
                })
            }
            (Some(v), None) => trigger(v, false),
            (None, Some(v)) => trigger(v, true),
            (None, None) => None,
        };
        *trigger_slot(action).expect("trigger name")(&mut common.triggers) = t;
    }
    if group == Group::Sync {
        check_sync(&got, &bad)?;
    }
    Ok(ResourceConfig {
        rid: sec.name.into(),
        group,
        rtype,
        line: sec.line,
        common,
        settings,
    })
}

/// A container sharing another's namespace (`netns = container#0`) names a container of
/// the service, not itself.
fn check_shared_namespaces(file: &Path, resources: &[ResourceConfig]) -> Result<(), ConfigError> {
    for rc in resources.iter().filter(|r| r.group == Group::Container) {
        for kw in ["netns", "pidns", "ipcns"] {
            let Some(Setting {
                value: Value::Str(v),
                line,
            }) = rc.settings.get(kw)
            else {
                continue;
            };
            let ok = !v.starts_with("container#")
                || (*v != rc.rid
                    && resources
                        .iter()
                        .any(|r| r.rid == *v && r.group == Group::Container));
            if !ok {
                return Err(ConfigError::BadValue {
                    file: file.into(),
                    line: *line,
                    section: rc.rid.clone(),
                    keyword: kw.into(),
                    value: v.clone(),
                    expected: "expected host, none, a network name, or another container of \
                               the service (container#<id>)"
                        .into(),
                });
            }
        }
    }
    Ok(())
}

/// What the keyword kinds cannot say of a sync: `target` words, and no snapshot.
fn check_sync(
    got: &BTreeMap<&'static str, Resolved>,
    bad: &dyn Fn(&Resolved, &str) -> ConfigError,
) -> Result<(), ConfigError> {
    if let Some(
        v @ Resolved {
            value: Value::List(words),
            ..
        },
    ) = got.get("target")
    {
        if words.is_empty() || words.iter().any(|w| w != "nodes" && w != "drpnodes") {
            return Err(bad(v, "expected nodes, drpnodes or both"));
        }
    }
    if let Some(
        v @ Resolved {
            value: Value::Bool(true),
            ..
        },
    ) = got.get("snap")
    {
        return Err(bad(
            v,
            "expected false (svcmgr takes no snapshot of the source)",
        ));
    }
    Ok(())
}

fn trigger(v: &Resolved, blocking: bool) -> Option<Trigger> {
    match &v.value {
        Value::Argv(argv) if !argv.is_empty() => Some(Trigger {
            argv: argv.clone(),
            blocking,
        }),
        _ => None,
    }
}

type Slot = fn(&mut Triggers) -> &mut Option<Trigger>;

/// The `Triggers` field a trigger keyword (plain or `blocking_`) fills.
fn trigger_slot(name: &str) -> Option<Slot> {
    let slot: Slot = match name.strip_prefix("blocking_").unwrap_or(name) {
        "pre_start" => |t| &mut t.pre_start,
        "post_start" => |t| &mut t.post_start,
        "pre_stop" => |t| &mut t.pre_stop,
        "post_stop" => |t| &mut t.post_stop,
        _ => return None,
    };
    Some(slot)
}
