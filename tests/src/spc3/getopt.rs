//! GNU `getopt_long` and C `sscanf` behaviour, as both emulated tools parse their command
//! lines with them: permutation of operands, unambiguous long-option prefixes, attached or
//! detached option arguments, glibc's diagnostics, and `sscanf`'s lenient number reading.

/// Whether an option takes an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HasArg {
    No,
    Required,
}

/// One entry of a `struct option` table.
#[derive(Clone, Copy, Debug)]
pub struct LongOpt {
    pub name: &'static str,
    pub has_arg: HasArg,
    pub val: char,
}

/// An option table: a getopt short-option string ("ab:c") and the long options.
#[derive(Clone, Copy, Debug)]
pub struct OptSpec {
    pub short: &'static str,
    pub long: &'static [LongOpt],
}

impl OptSpec {
    fn short_has_arg(&self, c: char) -> Option<HasArg> {
        if c == ':' {
            return None;
        }
        let pos = self.short.find(c)?;
        let next = self.short[pos + c.len_utf8()..].chars().next();
        Some(if next == Some(':') {
            HasArg::Required
        } else {
            HasArg::No
        })
    }
}

/// What `getopt_long` hands back for one option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A recognised option with its argument, if it takes one.
    Opt { val: char, arg: Option<String> },
    /// getopt returned '?': the text is the diagnostic glibc prints (without newline).
    Error(String),
}

/// Iterator over the options of an argv (argv[0] excluded), GNU style: operands may come
/// anywhere and are collected for [`Getopt::operands`]; "--" ends the options.
pub struct Getopt<'a> {
    prog: &'a str,
    spec: OptSpec,
    args: &'a [String],
    idx: usize,
    cluster: Option<(usize, usize)>,
    operands: Vec<String>,
}

impl<'a> Getopt<'a> {
    pub fn new(prog: &'a str, spec: OptSpec, args: &'a [String]) -> Self {
        Getopt {
            prog,
            spec,
            args,
            idx: 0,
            cluster: None,
            operands: Vec::new(),
        }
    }

    /// Operands (non-option arguments) seen so far, in order. Complete once the iterator
    /// returned `None`.
    pub fn operands(&self) -> &[String] {
        &self.operands
    }

    fn long(&mut self, body: &str) -> Parsed {
        self.idx += 1;
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let found = match self.spec.long.iter().find(|o| o.name == name) {
            Some(o) => *o,
            None => {
                let cands: Vec<&LongOpt> = self
                    .spec
                    .long
                    .iter()
                    .filter(|o| o.name.starts_with(name))
                    .collect();
                let Some(first) = cands.first() else {
                    return Parsed::Error(format!(
                        "{}: unrecognized option '--{}'",
                        self.prog, body
                    ));
                };
                // glibc only calls a prefix ambiguous when the candidates differ in effect.
                let differ = cands
                    .iter()
                    .any(|o| o.has_arg != first.has_arg || o.val != first.val);
                if differ {
                    let mut msg = format!(
                        "{}: option '--{}' is ambiguous; possibilities:",
                        self.prog, body
                    );
                    for o in &cands {
                        msg.push_str(&format!(" '--{}'", o.name));
                    }
                    return Parsed::Error(msg);
                }
                **first
            }
        };
        match (found.has_arg, value) {
            (HasArg::No, Some(_)) => Parsed::Error(format!(
                "{}: option '--{}' doesn't allow an argument",
                self.prog, found.name
            )),
            (HasArg::No, None) => Parsed::Opt {
                val: found.val,
                arg: None,
            },
            (HasArg::Required, Some(v)) => Parsed::Opt {
                val: found.val,
                arg: Some(v),
            },
            (HasArg::Required, None) => match self.args.get(self.idx) {
                Some(v) => {
                    self.idx += 1;
                    Parsed::Opt {
                        val: found.val,
                        arg: Some(v.clone()),
                    }
                }
                None => Parsed::Error(format!(
                    "{}: option '--{}' requires an argument",
                    self.prog, found.name
                )),
            },
        }
    }

    fn short(&mut self, ai: usize, pos: usize) -> Parsed {
        let args = self.args;
        let arg = &args[ai];
        let c = arg[pos..].chars().next().unwrap_or('?');
        let next = pos + c.len_utf8();
        let rest_empty = next >= arg.len();
        let finish_cluster = |g: &mut Self| {
            g.cluster = None;
            g.idx = ai + 1;
        };
        match self.spec.short_has_arg(c) {
            None => {
                if rest_empty {
                    finish_cluster(self);
                } else {
                    self.cluster = Some((ai, next));
                }
                Parsed::Error(format!("{}: invalid option -- '{}'", self.prog, c))
            }
            Some(HasArg::No) => {
                if rest_empty {
                    finish_cluster(self);
                } else {
                    self.cluster = Some((ai, next));
                }
                Parsed::Opt { val: c, arg: None }
            }
            Some(HasArg::Required) => {
                finish_cluster(self);
                if !rest_empty {
                    return Parsed::Opt {
                        val: c,
                        arg: Some(arg[next..].to_string()),
                    };
                }
                match self.args.get(self.idx) {
                    Some(v) => {
                        self.idx += 1;
                        Parsed::Opt {
                            val: c,
                            arg: Some(v.clone()),
                        }
                    }
                    None => Parsed::Error(format!(
                        "{}: option requires an argument -- '{}'",
                        self.prog, c
                    )),
                }
            }
        }
    }
}

impl Iterator for Getopt<'_> {
    type Item = Parsed;

    fn next(&mut self) -> Option<Parsed> {
        if let Some((ai, pos)) = self.cluster {
            return Some(self.short(ai, pos));
        }
        let args = self.args;
        loop {
            let arg = args.get(self.idx)?;
            if arg == "--" {
                self.operands.extend(args[self.idx + 1..].iter().cloned());
                self.idx = self.args.len();
                return None;
            }
            if let Some(body) = arg.strip_prefix("--") {
                return Some(self.long(body));
            }
            if arg.len() > 1 && arg.starts_with('-') {
                let ai = self.idx;
                return Some(self.short(ai, 1));
            }
            self.operands.push(arg.clone());
            self.idx += 1;
        }
    }
}

/// Reads an unsigned number the way glibc's `sscanf` does for `%x` / `%lx` / `%u` / `%d`:
/// leading white space, an optional sign, for base 16 an optional "0x" prefix, then at
/// least one digit; anything after the digits is ignored. Overflow saturates (strtoull)
/// and a minus sign negates modulo 2^64. `None` when no digit could be read.
fn scan_u64(text: &str, radix: u32) -> Option<u64> {
    let s = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut digits = s;
    let mut saw_prefix_zero = false;
    if radix == 16 && (s.starts_with("0x") || s.starts_with("0X")) {
        digits = &s[2..];
        saw_prefix_zero = true;
    }
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    let digits = &digits[..end];
    let value = if digits.is_empty() {
        if !saw_prefix_zero {
            return None;
        }
        // "0x" with no hex digit after it reads as the lone "0".
        0
    } else {
        u64::from_str_radix(digits, radix).unwrap_or(u64::MAX)
    };
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// `sscanf(s, "%" SCNx64, &u64)`.
pub fn scan_hex_u64(text: &str) -> Option<u64> {
    scan_u64(text, 16)
}

/// `sscanf(s, "%x", &unsigned_int)`: read as unsigned long, stored truncated.
pub fn scan_hex_u32(text: &str) -> Option<u32> {
    scan_u64(text, 16).map(|v| v as u32)
}

/// `sscanf(s, "%u", &unsigned_int)`.
pub fn scan_dec_u32(text: &str) -> Option<u32> {
    scan_u64(text, 10).map(|v| v as u32)
}

/// `sscanf(s, "%d", &int)`.
pub fn scan_dec_i32(text: &str) -> Option<i32> {
    scan_u64(text, 10).map(|v| v as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: &[LongOpt] = &[
        LongOpt {
            name: "in",
            has_arg: HasArg::No,
            val: 'i',
        },
        LongOpt {
            name: "param-rk",
            has_arg: HasArg::Required,
            val: 'K',
        },
        LongOpt {
            name: "param_rk",
            has_arg: HasArg::Required,
            val: 'K',
        },
        LongOpt {
            name: "param-sark",
            has_arg: HasArg::Required,
            val: 'S',
        },
        LongOpt {
            name: "register",
            has_arg: HasArg::No,
            val: 'G',
        },
        LongOpt {
            name: "register-ignore",
            has_arg: HasArg::No,
            val: 'I',
        },
    ];
    const SPEC: OptSpec = OptSpec {
        short: "iIGK:S:n",
        long: LONG,
    };

    fn run(args: &[&str]) -> (Vec<Parsed>, Vec<String>) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut g = Getopt::new("prog", SPEC, &args);
        let items: Vec<Parsed> = g.by_ref().collect();
        (items, g.operands().to_vec())
    }

    fn opt(val: char, arg: Option<&str>) -> Parsed {
        Parsed::Opt {
            val,
            arg: arg.map(str::to_string),
        }
    }

    #[test]
    fn clusters_attached_and_detached_arguments() {
        let (items, ops) = run(&["-nIS0x1", "/dev/x", "-K", "2", "-i"]);
        assert_eq!(
            items,
            vec![
                opt('n', None),
                opt('I', None),
                opt('S', Some("0x1")),
                opt('K', Some("2")),
                opt('i', None)
            ]
        );
        assert_eq!(ops, vec!["/dev/x"]);
    }

    #[test]
    fn long_options_exact_prefix_and_equals() {
        let (items, _) = run(&["--param-sark=0x1", "--param-rk", "3", "--in", "--register"]);
        assert_eq!(
            items,
            vec![
                opt('S', Some("0x1")),
                opt('K', Some("3")),
                opt('i', None),
                opt('G', None)
            ]
        );
        // "--register" is an exact match even though "--register-ignore" shares the prefix.
        let (items, _) = run(&["--register-i", "--param-s", "5"]);
        assert_eq!(items, vec![opt('I', None), opt('S', Some("5"))]);
    }

    #[test]
    fn ambiguous_prefix_only_when_effects_differ() {
        let (items, _) = run(&["--param-r=1"]);
        assert_eq!(items, vec![opt('K', Some("1"))]);
        let (items, _) = run(&["--param=1"]);
        assert_eq!(
            items,
            vec![Parsed::Error(
                "prog: option '--param=1' is ambiguous; possibilities: '--param-rk' \
                 '--param_rk' '--param-sark'"
                    .to_string()
            )]
        );
    }

    #[test]
    fn glibc_diagnostics() {
        let (items, _) = run(&["--bogus"]);
        assert_eq!(
            items,
            vec![Parsed::Error("prog: unrecognized option '--bogus'".into())]
        );
        let (items, _) = run(&["-x"]);
        assert_eq!(
            items,
            vec![Parsed::Error("prog: invalid option -- 'x'".into())]
        );
        let (items, _) = run(&["-S"]);
        assert_eq!(
            items,
            vec![Parsed::Error(
                "prog: option requires an argument -- 'S'".into()
            )]
        );
        let (items, _) = run(&["--param-sark"]);
        assert_eq!(
            items,
            vec![Parsed::Error(
                "prog: option '--param-sark' requires an argument".into()
            )]
        );
        let (items, _) = run(&["--in=3"]);
        assert_eq!(
            items,
            vec![Parsed::Error(
                "prog: option '--in' doesn't allow an argument".into()
            )]
        );
    }

    #[test]
    fn double_dash_ends_options_and_dash_is_an_operand() {
        let (items, ops) = run(&["-i", "--", "-n", "x"]);
        assert_eq!(items, vec![opt('i', None)]);
        assert_eq!(ops, vec!["-n", "x"]);
        let (_, ops) = run(&["-", "-i"]);
        assert_eq!(ops, vec!["-"]);
    }

    #[test]
    fn scanf_hex() {
        assert_eq!(scan_hex_u64("0x74CA0000"), Some(0x74ca_0000));
        assert_eq!(scan_hex_u64("000ab"), Some(0xab));
        assert_eq!(scan_hex_u64("0XaB"), Some(0xab));
        assert_eq!(scan_hex_u64("  12zz"), Some(0x12));
        assert_eq!(scan_hex_u64("0x"), Some(0));
        assert_eq!(scan_hex_u64("-1"), Some(u64::MAX));
        assert_eq!(scan_hex_u64("fffffffffffffffff"), Some(u64::MAX));
        assert_eq!(scan_hex_u64("zz"), None);
        assert_eq!(scan_hex_u64(""), None);
        assert_eq!(scan_hex_u32("100000005"), Some(5));
        assert_eq!(scan_dec_i32("-3"), Some(-3));
        assert_eq!(scan_dec_u32("x"), None);
    }
}
