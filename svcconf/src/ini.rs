//! Phase 1: bytes -> sections and `key = value` entries, each with its line.
//!
//! The INI grammar is rust-ini's; it keeps no line numbers, so the lines are scanned here too
//! and the two views are matched up in order.

use std::path::Path;

use ini::{Ini, ParseOption};

use crate::error::ConfigError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The key as written, scope included (`ipname@n1`).
    pub key: String,
    pub value: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawSection {
    pub name: String,
    pub line: usize,
    pub entries: Vec<Entry>,
}

/// A scanned line that matters.
enum Line<'a> {
    Header(&'a str),
    Key(&'a str),
}

/// Decode and tokenize. Returns the text and the sections in file order.
pub(crate) fn tokenize(
    bytes: &[u8],
    file: &Path,
) -> Result<(String, Vec<RawSection>), ConfigError> {
    let text = decode(bytes, file)?;
    let lines = scan(&text, file)?;
    if lines.is_empty() {
        return Err(ConfigError::Empty { file: file.into() });
    }
    let opt = ParseOption {
        enabled_quote: false,
        enabled_escape: false,
        enabled_indented_mutiline_value: false,
        enabled_preserve_key_leading_whitespace: false,
    };
    // Lines are fed without their indentation and comments (kept as empty lines, so line
    // numbers hold): rust-ini would read an indented comment as the start of a key.
    let plain: String = text
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with('#') || t.starts_with(';') {
                "\n".to_string()
            } else {
                format!("{t}\n")
            }
        })
        .collect();
    let parsed = Ini::load_from_str_opt(&plain, opt).map_err(|e| ConfigError::Syntax {
        file: file.into(),
        line: e.line.min(text.lines().count().max(1)),
        msg: e.msg.into_owned(),
    })?;
    if let Some((line, Line::Key(k))) = lines.first() {
        return Err(ConfigError::OutsideSection {
            file: file.into(),
            line: *line,
            keyword: (*k).into(),
        });
    }
    Ok((text.clone(), merge(&parsed, &lines)))
}

fn decode(bytes: &[u8], file: &Path) -> Result<String, ConfigError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let bad_at = match std::str::from_utf8(bytes) {
        Ok(s) => s.find('\0'),
        Err(e) => Some(e.valid_up_to()),
    };
    match bad_at {
        None => Ok(String::from_utf8_lossy(bytes).into_owned()),
        Some(at) => Err(ConfigError::NotText {
            file: file.into(),
            line: 1 + bytes[..at].iter().filter(|b| **b == b'\n').count(),
        }),
    }
}

/// Section headers and keys with their 1-based lines; blank lines and comments dropped.
/// Also the line-level syntax rust-ini is lax about (a line that is neither).
fn scan<'a>(text: &'a str, file: &Path) -> Result<Vec<(usize, Line<'a>)>, ConfigError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        let syntax = |msg: &str| ConfigError::Syntax {
            file: file.into(),
            line,
            msg: msg.into(),
        };
        if let Some(rest) = t.strip_prefix('[') {
            let (name, after) = rest
                .split_once(']')
                .ok_or_else(|| syntax("section header must end with ']'"))?;
            if !after.trim().is_empty() {
                return Err(syntax("text after the section header"));
            }
            out.push((line, Line::Header(name.trim())));
            continue;
        }
        match t.find(['=', ':']) {
            Some(0) => return Err(syntax("missing key")),
            Some(at) => out.push((line, Line::Key(t[..at].trim()))),
            None => return Err(syntax("expected 'key = value'")),
        }
    }
    Ok(out)
}

/// rust-ini's sections and values, with the scanned lines attached in order.
fn merge(parsed: &Ini, lines: &[(usize, Line<'_>)]) -> Vec<RawSection> {
    // Scanned sections: (name, line, keys with lines).
    type Scanned<'s> = (&'s str, usize, Vec<(&'s str, usize)>);
    let mut scanned: Vec<Scanned<'_>> = Vec::new();
    for (line, l) in lines {
        match l {
            Line::Header(name) => scanned.push((name, *line, Vec::new())),
            Line::Key(k) => {
                if let Some(last) = scanned.last_mut() {
                    last.2.push((k, *line));
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut cursor = 0;
    for (name, props) in parsed.iter() {
        let Some(name) = name else { continue };
        let found = scanned[cursor..].iter().position(|s| s.0 == name);
        let (line, keys) = match found {
            Some(p) => {
                cursor += p + 1;
                (scanned[cursor - 1].1, scanned[cursor - 1].2.as_slice())
            }
            None => (0, &[][..]),
        };
        let mut kcursor = 0;
        let entries = props
            .iter()
            .map(|(k, v)| {
                let kline = match keys[kcursor..].iter().position(|(sk, _)| *sk == k) {
                    Some(p) => {
                        kcursor += p + 1;
                        keys[kcursor - 1].1
                    }
                    None => line,
                };
                Entry {
                    key: k.to_string(),
                    value: v.to_string(),
                    line: kline,
                }
            })
            .collect();
        out.push(RawSection {
            name: name.to_string(),
            line,
            entries,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(s: &str) -> Result<Vec<RawSection>, String> {
        tokenize(s.as_bytes(), Path::new("t.conf"))
            .map(|(_, s)| s)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn lines_of_sections_and_keys() {
        let s = tok("# c\n[DEFAULT]\nnodes = a b\n\n  ; x\n[ip#1]\nipname=1.2.3.4\n  ipdev = eth0 \n[ip#1]\nipdev = x\nipdev: y\n").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].name.as_str(), s[0].line), ("DEFAULT", 2));
        assert_eq!(
            s[0].entries[0],
            Entry {
                key: "nodes".into(),
                value: "a b".into(),
                line: 3
            }
        );
        assert_eq!((s[1].name.as_str(), s[1].line), ("ip#1", 6));
        assert_eq!(
            s[1].entries[1],
            Entry {
                key: "ipdev".into(),
                value: "eth0".into(),
                line: 8
            }
        );
        assert_eq!((s[2].name.as_str(), s[2].line), ("ip#1", 9));
        let lines: Vec<usize> = s[2].entries.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![10, 11]);
        assert_eq!(s[2].entries[1].value, "y");
    }

    #[test]
    fn values_keep_quotes_and_backslashes() {
        let s = tok("[fs#1]\npre_start = echo \"a b\" 'c' C:\\x\n").unwrap();
        assert_eq!(s[0].entries[0].value, "echo \"a b\" 'c' C:\\x");
    }

    #[test]
    fn syntax_errors_have_lines() {
        assert_eq!(
            tok("[DEFAULT]\nnodes = a\njunk\n").unwrap_err(),
            "t.conf:3: syntax error: expected 'key = value'"
        );
        assert_eq!(
            tok("[DEFAULT\nnodes = a\n").unwrap_err(),
            "t.conf:1: syntax error: section header must end with ']'"
        );
        assert_eq!(
            tok("[DEFAULT]\n= a\n").unwrap_err(),
            "t.conf:2: syntax error: missing key"
        );
        assert_eq!(
            tok("\n\na = b\n[DEFAULT]\n").unwrap_err(),
            "t.conf:3: a: keyword outside of any section"
        );
    }

    #[test]
    fn binary_and_empty() {
        let e = tokenize(b"[DEFAULT]\nnodes = a\x00\n", Path::new("t.conf")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.conf: not a text file (binary data at line 2)"
        );
        let e = tokenize(b"[DEFAULT]\n\n\nx = \xff\xfe\n", Path::new("t.conf")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.conf: not a text file (binary data at line 4)"
        );
        assert_eq!(
            tok("").unwrap_err(),
            "t.conf: empty config: no [DEFAULT] section and no resource"
        );
        assert_eq!(
            tok("  \n# only\n; comments\n\t\n").unwrap_err(),
            "t.conf: empty config: no [DEFAULT] section and no resource"
        );
    }
}
