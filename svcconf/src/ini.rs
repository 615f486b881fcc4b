//! Phase 1: bytes -> sections and `key = value` entries, each with its line.
//!
//! The grammar is Python configparser's, which OpenSVC reads its configs with:
//! - `[name]` opens a section; `key = value` or `key: value` sets a keyword (key and value
//!   trimmed; no inline comments, so `#` inside a value is kept).
//! - A line indented deeper than the key line above it, inside a section, continues that
//!   key's value: the value is the lines joined with `\n`, each trimmed.
//! - Comment lines (`#` or `;` first, after any indentation) are skipped, also inside a
//!   multi-line value: they neither end it nor join it.
//! - Blank lines inside a multi-line value are kept as empty lines when an indented line
//!   follows (configparser's `empty_lines_in_values`); trailing ones are dropped.
//!
//! Every entry keeps the line of its key, so errors point at the keyword.

use std::path::Path;

use crate::error::ConfigError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The key as written, scope included (`ipname@n1`).
    pub key: String,
    pub value: String,
    pub line: usize,
    /// The continuation lines joined to the value: (line, trimmed text).
    pub continued: Vec<(usize, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawSection {
    pub name: String,
    pub line: usize,
    pub entries: Vec<Entry>,
}

/// Decode and tokenize. Returns the text and the sections in file order.
pub(crate) fn tokenize(
    bytes: &[u8],
    file: &Path,
) -> Result<(String, Vec<RawSection>), ConfigError> {
    let text = decode(bytes, file)?;
    let sections = parse(&text, file)?;
    if sections.is_empty() {
        return Err(ConfigError::Empty { file: file.into() });
    }
    Ok((text, sections))
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

/// The key line a continuation would extend: its indentation and the blank lines seen since.
struct Open {
    indent: usize,
    blanks: usize,
}

pub(crate) fn parse(text: &str, file: &Path) -> Result<Vec<RawSection>, ConfigError> {
    let mut out: Vec<RawSection> = Vec::new();
    let mut open: Option<Open> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if t.is_empty() {
            if let Some(o) = open.as_mut() {
                o.blanks += 1;
            }
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        if let Some(o) = open.as_mut().filter(|o| indent > o.indent) {
            let e = out
                .last_mut()
                .and_then(|s| s.entries.last_mut())
                .expect("an open value has an entry");
            for _ in 0..o.blanks {
                e.value.push('\n');
            }
            o.blanks = 0;
            e.value.push('\n');
            e.value.push_str(t);
            e.continued.push((line, t.to_string()));
            continue;
        }
        open = None;
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
            out.push(RawSection {
                name: name.trim().to_string(),
                line,
                entries: Vec::new(),
            });
            continue;
        }
        let (key, value) = match t.find(['=', ':']) {
            Some(0) => return Err(syntax("missing key")),
            Some(at) => (t[..at].trim(), t[at + 1..].trim()),
            None => return Err(syntax("expected 'key = value'")),
        };
        let Some(sec) = out.last_mut() else {
            return Err(ConfigError::OutsideSection {
                file: file.into(),
                line,
                keyword: key.into(),
            });
        };
        sec.entries.push(Entry {
            key: key.to_string(),
            value: value.to_string(),
            line,
            continued: Vec::new(),
        });
        open = Some(Open { indent, blanks: 0 });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tok(s: &str) -> Result<Vec<RawSection>, String> {
        tokenize(s.as_bytes(), Path::new("t.conf"))
            .map(|(_, s)| s)
            .map_err(|e| e.to_string())
    }

    /// Every entry as (section, key, value, line).
    fn flat(s: &str) -> Vec<(String, String, String, usize)> {
        tok(s)
            .unwrap_or_else(|e| panic!("{s:?}: {e}"))
            .into_iter()
            .flat_map(|sec| {
                sec.entries
                    .into_iter()
                    .map(move |e| (sec.name.clone(), e.key, e.value, e.line))
            })
            .collect()
    }

    #[test]
    fn lines_of_sections_and_keys() {
        let s = tok("# c\n[DEFAULT]\nnodes = a b\n\n  ; x\n[ip#1]\n  ipname=1.2.3.4\nipdev = eth0 \n[ip#1]\nipdev = x\nipdev: y\n").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].name.as_str(), s[0].line), ("DEFAULT", 2));
        assert_eq!(
            s[0].entries[0],
            Entry {
                key: "nodes".into(),
                value: "a b".into(),
                line: 3,
                continued: vec![],
            }
        );
        assert_eq!((s[1].name.as_str(), s[1].line), ("ip#1", 6));
        assert_eq!(s[1].entries[0].value, "1.2.3.4");
        assert_eq!(
            (s[1].entries[1].value.as_str(), s[1].entries[1].line),
            ("eth0", 8)
        );
        assert_eq!((s[2].name.as_str(), s[2].line), ("ip#1", 9));
        let lines: Vec<usize> = s[2].entries.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![10, 11]);
        assert_eq!(s[2].entries[1].value, "y");
    }

    /// (input, [(key, value, line)]).
    type Case = (&'static str, &'static [(&'static str, &'static str, usize)]);

    /// configparser's multi-line values, case by case.
    #[test]
    fn continuation_lines() {
        let cases: &[Case] = &[
            // The case: the volume argument belongs to run_args.
            (
                "[container#1]\nrun_args = --net=host\n    -v /data:/data\nrun_image = i\n",
                &[
                    ("run_args", "--net=host\n-v /data:/data", 2),
                    ("run_image", "i", 4),
                ],
            ),
            // Tabs indent too; several lines.
            (
                "[c#1]\nenvironment = A=1\n\tB=2\n\t  C=3\n",
                &[("environment", "A=1\nB=2\nC=3", 2)],
            ),
            // A value may start on the next line.
            (
                "[c#1]\nvolume_mounts =\n  /a:/a\n  /b:/b\nx = 1\n",
                &[("volume_mounts", "\n/a:/a\n/b:/b", 2), ("x", "1", 5)],
            ),
            // Comment lines inside a value are skipped and do not end it.
            (
                "[c#1]\nrun_args = -a\n# note\n  ; note\n  -b\n",
                &[("run_args", "-a\n-b", 2)],
            ),
            // A blank line followed by an indented line: kept as an empty line.
            (
                "[c#1]\nrun_args = -a\n\n  -b\n",
                &[("run_args", "-a\n\n-b", 2)],
            ),
            // Trailing blank lines are not part of the value.
            (
                "[c#1]\nrun_args = -a\n\n\n[d#1]\nk = v\n",
                &[("run_args", "-a", 2), ("k", "v", 6)],
            ),
            // Continuation is relative to the key's own indentation.
            (
                "[c#1]\n  a = 1\n  b = 2\n    more\nc = 3\n",
                &[("a", "1", 2), ("b", "2\nmore", 3), ("c", "3", 5)],
            ),
            // An indented line looking like a key still continues (as in configparser).
            (
                "[ip#1]\nipname = 1.2.3.4\n  ipdev = eth0\n",
                &[("ipname", "1.2.3.4\nipdev = eth0", 2)],
            ),
            // An indented line right after a header is a key, not a continuation.
            ("[c#1]\n   a = 1\nb = 2\n", &[("a", "1", 2), ("b", "2", 3)]),
            // Brackets and '#' inside a continuation are text.
            (
                "[c#1]\ncmd = sh -c\n  'echo [x] # y'\n",
                &[("cmd", "sh -c\n'echo [x] # y'", 2)],
            ),
            // CRLF line ends.
            ("[c#1]\r\na = 1\r\n  2\r\n", &[("a", "1\n2", 2)]),
        ];
        for (input, want) in cases {
            let got: Vec<(String, String, usize)> = flat(input)
                .into_iter()
                .map(|(_, k, v, l)| (k, v, l))
                .collect();
            let want: Vec<(String, String, usize)> = want
                .iter()
                .map(|(k, v, l)| (k.to_string(), v.to_string(), *l))
                .collect();
            assert_eq!(got, want, "{input:?}");
        }
    }

    #[test]
    fn continued_lines_are_recorded() {
        let s = tok("[c#1]\nrun_args = -a\n# c\n  -b\n\n  -c\n").unwrap();
        assert_eq!(
            s[0].entries[0].continued,
            vec![(4, "-b".to_string()), (6, "-c".to_string())]
        );
    }

    #[test]
    fn values_keep_quotes_and_backslashes() {
        let s = tok("[fs#1]\npre_start = echo \"a b\" 'c' C:\\x\n").unwrap();
        assert_eq!(s[0].entries[0].value, "echo \"a b\" 'c' C:\\x");
    }

    #[test]
    fn syntax_errors_have_lines() {
        let cases = [
            (
                "[DEFAULT]\nnodes = a\njunk\n",
                "t.conf:3: syntax error: expected 'key = value'",
            ),
            (
                "[DEFAULT\nnodes = a\n",
                "t.conf:1: syntax error: section header must end with ']'",
            ),
            ("[DEFAULT]\n= a\n", "t.conf:2: syntax error: missing key"),
            (
                "[DEFAULT] x\n",
                "t.conf:1: syntax error: text after the section header",
            ),
            (
                "\n\na = b\n[DEFAULT]\n",
                "t.conf:3: a: keyword outside of any section",
            ),
            // A continuation never reaches back over a header, and a header has no value.
            (
                "[DEFAULT]\n  junk\n",
                "t.conf:2: syntax error: expected 'key = value'",
            ),
            // After a multi-line value, line numbers still count every line.
            (
                "[c#1]\na = 1\n  2\n\n# c\n  3\nbad\n",
                "t.conf:7: syntax error: expected 'key = value'",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(tok(input).unwrap_err(), want, "{input:?}");
        }
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

    /// A word of a command line: no whitespace, not starting a comment.
    fn word() -> impl Strategy<Value = String> {
        "[A-Za-z0-9/=:._,-][A-Za-z0-9/=:._,#;-]{0,12}"
    }

    proptest! {
        /// A value split over continuation lines reads back as its lines joined by '\n',
        /// and as the same words: nothing is dropped or reordered.
        #[test]
        fn split_value_round_trips(
            lines in proptest::collection::vec(proptest::collection::vec(word(), 1..4), 1..6),
            indents in proptest::collection::vec(1usize..6, 6),
            tab in any::<bool>(),
        ) {
            let pad = if tab { "\t" } else { " " };
            let mut text = String::from("[container#1]\nrun_args = ");
            for (i, l) in lines.iter().enumerate() {
                if i > 0 {
                    text.push_str(&pad.repeat(indents[i]));
                }
                text.push_str(&l.join(" "));
                text.push('\n');
            }
            text.push_str("run_image = img\n");
            let got = flat(&text);
            let joined: Vec<String> = lines.iter().map(|l| l.join(" ")).collect();
            prop_assert_eq!(&got[0].2, &joined.join("\n"));
            prop_assert_eq!(got[0].3, 2);
            prop_assert_eq!(&got[1].2, "img");
            prop_assert_eq!(got[1].3, 2 + lines.len());
            let words: Vec<String> = lines.concat();
            prop_assert_eq!(shlex::split(&got[0].2).unwrap(), words);
        }

        /// Arbitrary text never panics the reader.
        #[test]
        fn arbitrary_text_never_panics(s in "[\\[\\]=:#; \t\na-z\r]{0,200}") {
            let _ = tok(&s);
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = tokenize(&b, Path::new("t.conf"));
        }
    }
}
