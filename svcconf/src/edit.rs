//! A line-preserving editor for service configs: `set`, `unset` and section removal change
//! only the lines of the keywords (or sections) they touch. Comments, blank lines, the order
//! of sections and keywords, and the continuation lines of untouched keys stay as written.
//!
//! Every edit re-reads the text with the same reader as loading (`ini`), so what the editor
//! sees as a key, a continuation line or a comment is exactly what loading sees.

use std::path::{Path, PathBuf};

use crate::error::ConfigError;
use crate::ini::{self, RawSection};
use crate::keywords;
use crate::resolve::Scope;

/// `section.keyword[@scope]`; a bare `keyword[@scope]` is in DEFAULT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub section: String,
    /// The keyword as written in the file, scope included (`mnt_opt@n2`).
    pub keyword: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("bad keyword '{0}': expected section.keyword[@node], or keyword[@node] for DEFAULT")]
    BadKey(String),
    #[error("bad --kw '{0}': expected KEY=VALUE")]
    NoValue(String),
    #[error(
        "[{section}] {keyword}: value can not be written in an INI file as given (a line \
         of it would start a comment or a section, or be lost as blank)"
    )]
    Unwritable { section: String, keyword: String },
}

impl Key {
    pub fn parse(s: &str) -> Result<Key, EditError> {
        let bad = || EditError::BadKey(s.to_string());
        // A resource set's section holds a '.' and a ':' of its own:
        // `subset#container.docker:web.parallel`.
        let split = match s.split_once(':') {
            Some((head, tail)) if head.starts_with("subset#") => tail
                .split_once('.')
                .map(|(name, kw)| (&s[..head.len() + 1 + name.len()], kw)),
            _ => s.split_once('.'),
        };
        let (section, keyword) = match split {
            Some((sec, kw)) => (sec.trim(), kw.trim()),
            None => ("DEFAULT", s.trim()),
        };
        let subset = section.starts_with("subset#");
        let word_ok = |w: &str, colon: bool| {
            !w.is_empty()
                && !w.chars().any(|c| {
                    c.is_whitespace() || matches!(c, '=' | '[' | ']') || (c == ':' && !colon)
                })
        };
        let (base, scope) = keyword.split_once('@').unwrap_or((keyword, "x"));
        if !word_ok(section, subset)
            || !word_ok(base, false)
            || !word_ok(scope, false)
            || base.starts_with(['#', ';'])
            || section.starts_with(['#', ';'])
        {
            return Err(bad());
        }
        Ok(Key {
            section: section.to_string(),
            keyword: keyword.to_string(),
        })
    }

    /// `KEY=VALUE` (the value may be empty, may hold `=`).
    pub fn parse_assignment(s: &str) -> Result<(Key, String), EditError> {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| EditError::NoValue(s.to_string()))?;
        Ok((Key::parse(k)?, v.to_string()))
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.section, self.keyword)
    }
}

/// Whether two keys as written name the same keyword: same scope, and the same base name
/// (ignoring case, as configparser does) or two names of one keyword (`image`/`run_image`).
fn same_key(a: &str, b: &str) -> bool {
    let (ba, sa) = Scope::parse(a);
    let (bb, sb) = Scope::parse(b);
    if sa != sb {
        return false;
    }
    ba.eq_ignore_ascii_case(bb)
        || keywords::all()
            .iter()
            .any(|k| k.matches(ba) && k.matches(bb))
}

/// A config's text, edited line by line.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    file: PathBuf,
    /// Lines with their line ends.
    lines: Vec<String>,
    eol: &'static str,
}

/// An entry's lines (0-based, inclusive): the key line through its last continuation line.
struct Span {
    first: usize,
    last: usize,
    /// The continuation lines (0-based); comment lines between them are not in it.
    continued: Vec<usize>,
}

impl Doc {
    /// Read `text` as a config; a syntax error is returned as loading would report it.
    pub fn parse(text: &str, file: &Path) -> Result<Doc, ConfigError> {
        ini::parse(text, file)?;
        let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
        Ok(Doc {
            file: file.into(),
            lines: text.split_inclusive('\n').map(str::to_string).collect(),
            eol,
        })
    }

    pub fn text(&self) -> String {
        self.lines.concat()
    }

    fn sections(&self) -> Vec<RawSection> {
        // Every edit keeps the text readable (values are checked when written).
        ini::parse(&self.text(), &self.file).expect("an edited config stays readable")
    }

    /// Section names in file order.
    pub fn section_names(&self) -> Vec<String> {
        self.sections().into_iter().map(|s| s.name).collect()
    }

    fn spans(sec: &RawSection, key: &str) -> Vec<Span> {
        sec.entries
            .iter()
            .filter(|e| same_key(&e.key, key))
            .map(|e| {
                let continued: Vec<usize> = e.continued.iter().map(|(l, _)| l - 1).collect();
                Span {
                    first: e.line - 1,
                    last: continued.last().copied().unwrap_or(e.line - 1),
                    continued,
                }
            })
            .collect()
    }

    /// The value as written (continuation lines joined with `\n`), None when not set.
    pub fn get(&self, key: &Key) -> Option<String> {
        self.sections()
            .into_iter()
            .filter(|s| s.name == key.section)
            .flat_map(|s| s.entries)
            .find(|e| same_key(&e.key, &key.keyword))
            .map(|e| e.value)
    }

    /// The keys written in `section`, in file order.
    pub fn keys(&self, section: &str) -> Vec<String> {
        self.sections()
            .into_iter()
            .filter(|s| s.name == section)
            .flat_map(|s| s.entries)
            .map(|e| e.key)
            .collect()
    }

    fn ensure_last_eol(&mut self) {
        if let Some(last) = self.lines.last_mut() {
            if !last.ends_with('\n') {
                last.push_str(self.eol);
            }
        }
    }

    /// The lines of `key = value`: a multi-line value continues on lines indented by
    /// `cont_indent`.
    fn entry_lines(&self, head: &str, value: &str, cont_indent: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (i, l) in value.split('\n').enumerate() {
            let l = l.trim();
            if i == 0 {
                let line = if l.is_empty() {
                    head.trim_end().to_string()
                } else {
                    format!("{head}{l}")
                };
                out.push(format!("{line}{}", self.eol));
            } else if l.is_empty() {
                out.push(self.eol.to_string());
            } else {
                out.push(format!("{cont_indent}{l}{}", self.eol));
            }
        }
        out
    }

    /// Set `key` to `value`: the key's lines are replaced in place (keeping its indentation
    /// and `=` spacing), or a line is added after the section's last keyword, or the section
    /// is added (DEFAULT first, others last).
    pub fn set(&mut self, key: &Key, value: &str) -> Result<(), EditError> {
        self.ensure_last_eol();
        let secs = self.sections();
        let sec = secs.iter().find(|s| s.name == key.section);
        let existing = sec.and_then(|s| Self::spans(s, &key.keyword).into_iter().next());
        let before = self.clone();
        match (sec, existing) {
            (Some(_), Some(span)) => {
                let raw = self.lines[span.first]
                    .trim_end_matches(['\r', '\n'])
                    .to_string();
                let sep = raw.find(['=', ':']).expect("a key line has a separator");
                let after = &raw[sep + 1..];
                let pad = after.len() - after.trim_start().len();
                let head = if after.trim().is_empty() {
                    format!("{} ", raw[..=sep].trim_end_matches(' '))
                } else {
                    raw[..sep + 1 + pad].to_string()
                };
                let cont = match span.continued.first() {
                    Some(&c) => leading_ws(&self.lines[c]).to_string(),
                    None => format!("{}    ", leading_ws(&raw)),
                };
                let new = self.entry_lines(&head, value, &cont);
                // Comment lines inside the old value stay, after the new one.
                let kept: Vec<String> = (span.first..=span.last)
                    .filter(|i| is_comment(&self.lines[*i]))
                    .map(|i| self.lines[i].clone())
                    .collect();
                self.lines
                    .splice(span.first..=span.last, new.into_iter().chain(kept));
            }
            (Some(s), None) => {
                let (at, indent) = match s.entries.last() {
                    Some(e) => (
                        e.continued.last().map_or(e.line, |(l, _)| *l),
                        leading_ws(&self.lines[e.line - 1]).to_string(),
                    ),
                    None => (s.line, String::new()),
                };
                let head = format!("{indent}{} = ", key.keyword);
                let new = self.entry_lines(&head, value, &format!("{indent}    "));
                self.lines.splice(at..at, new);
            }
            (None, _) => {
                let head = format!("{} = ", key.keyword);
                let mut new = vec![format!("[{}]{}", key.section, self.eol)];
                new.extend(self.entry_lines(&head, value, "    "));
                match secs.first() {
                    Some(first) if key.section == "DEFAULT" => {
                        new.push(self.eol.to_string());
                        let at = first.line - 1;
                        self.lines.splice(at..at, new);
                    }
                    _ => {
                        if self.lines.last().is_some_and(|l| !l.trim().is_empty()) {
                            self.lines.push(self.eol.to_string());
                        }
                        self.lines.extend(new);
                    }
                }
            }
        }
        // What is read back must be what was asked: else a line of the value was taken
        // for something else.
        let wanted = normalize(value);
        let ok = ini::parse(&self.text(), &self.file).is_ok()
            && self.get(key).map(|v| normalize(&v)) == Some(wanted);
        if !ok {
            *self = before;
            return Err(EditError::Unwritable {
                section: key.section.clone(),
                keyword: key.keyword.clone(),
            });
        }
        Ok(())
    }

    /// Remove `key` (every line of it). False when it was not set.
    pub fn unset(&mut self, key: &Key) -> bool {
        let secs = self.sections();
        let Some(sec) = secs.iter().find(|s| s.name == key.section) else {
            return false;
        };
        let spans = Self::spans(sec, &key.keyword);
        for span in spans.iter().rev() {
            let keep: Vec<String> = (span.first..=span.last)
                .filter(|i| is_comment(&self.lines[*i]))
                .map(|i| self.lines[i].clone())
                .collect();
            self.lines.splice(span.first..=span.last, keep);
        }
        !spans.is_empty()
    }

    /// Remove section `name`: its header through its last keyword's last line (comments
    /// after it stay: they usually introduce what follows). False when there is none.
    pub fn remove_section(&mut self, name: &str) -> bool {
        let secs = self.sections();
        let Some(sec) = secs.iter().find(|s| s.name == name) else {
            return false;
        };
        let first = sec.line - 1;
        let last = sec.entries.last().map_or(first, |e| {
            e.continued.last().map_or(e.line, |(l, _)| *l) - 1
        });
        self.lines.drain(first..=last);
        // Two blank lines left meeting (or a blank line left at the end): drop one.
        let blank = |l: &String| l.trim().is_empty();
        let prev_blank = first == 0 || blank(&self.lines[first - 1]);
        if first < self.lines.len() && prev_blank && blank(&self.lines[first]) {
            self.lines.remove(first);
        } else if first == self.lines.len() && first > 0 && prev_blank {
            self.lines.pop();
        }
        true
    }
}

fn leading_ws(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

fn is_comment(line: &str) -> bool {
    let t = line.trim();
    t.starts_with('#') || t.starts_with(';')
}

/// A value as the reader gives it back: lines trimmed, trailing blank lines dropped.
fn normalize(v: &str) -> String {
    let lines: Vec<&str> = v.split('\n').map(str::trim).collect();
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(1, |i| i + 1);
    lines[..end].join("\n")
}

#[cfg(test)]
#[path = "edit_tests.rs"]
mod tests;
