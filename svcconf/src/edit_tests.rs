use super::*;
use proptest::prelude::*;

const CONF: &str = "\
# web service, maintained by ops
[DEFAULT]
nodes = n1 n2
; preferred node first
orchestrate = ha

[fs#1]
dev = /dev/vg/lv
mnt = /srv/web
mnt_opt = rw
mnt_opt@n2 = ro
# the type matters for fsck
type = ext4

[container#1]
type = podman
run_args = --net=host
    # the data volume
    -v /data:/data
run_image = busybox
";

fn doc(text: &str) -> Doc {
    Doc::parse(text, Path::new("web.conf")).unwrap()
}

fn key(s: &str) -> Key {
    Key::parse(s).unwrap()
}

enum Op {
    Set(&'static str, &'static str),
    Unset(&'static str),
    RemoveSection(&'static str),
}

/// (what, input, operations, expected text): every line not touched stays byte for byte.
type Golden = (&'static str, &'static str, &'static [Op], String);

#[test]
fn golden_edits() {
    let cases: Vec<Golden> = vec![
        (
            "replace a DEFAULT keyword, comments stay",
            CONF,
            &[Op::Set("orchestrate", "no")],
            CONF.replacen("orchestrate = ha", "orchestrate = no", 1),
        ),
        (
            "a scoped key is its own key",
            CONF,
            &[Op::Set("fs#1.mnt_opt@n2", "ro,noatime")],
            CONF.replacen("mnt_opt@n2 = ro\n", "mnt_opt@n2 = ro,noatime\n", 1),
        ),
        (
            "a new scoped key goes after the section's last keyword",
            CONF,
            &[Op::Set("fs#1.mnt_opt@n1", "rw,noatime")],
            CONF.replacen("type = ext4\n", "type = ext4\nmnt_opt@n1 = rw,noatime\n", 1),
        ),
        (
            "a multi-line value is replaced whole; its comment stays",
            CONF,
            &[Op::Set("container#1.run_args", "--net=none")],
            CONF.replacen(
                "run_args = --net=host\n    # the data volume\n    -v /data:/data\n",
                "run_args = --net=none\n    # the data volume\n",
                1,
            ),
        ),
        (
            "a multi-line value keeps its continuation indentation",
            CONF,
            &[Op::Set("container#1.run_args", "--net=none\n-v /a:/a\n-v /b:/b")],
            CONF.replacen(
                "run_args = --net=host\n    # the data volume\n    -v /data:/data\n",
                "run_args = --net=none\n    -v /a:/a\n    -v /b:/b\n    # the data volume\n",
                1,
            ),
        ),
        (
            "setting the key after a multi-line value leaves the value alone",
            CONF,
            &[Op::Set("container#1.run_image", "alpine")],
            CONF.replacen("run_image = busybox", "run_image = alpine", 1),
        ),
        (
            "unset a key with continuation lines; its comment stays",
            CONF,
            &[Op::Unset("container#1.run_args")],
            CONF.replacen(
                "run_args = --net=host\n    # the data volume\n    -v /data:/data\n",
                "    # the data volume\n",
                1,
            ),
        ),
        (
            "unset of a scoped key leaves the plain one",
            CONF,
            &[Op::Unset("fs#1.mnt_opt@n2")],
            CONF.replacen("mnt_opt@n2 = ro\n", "", 1),
        ),
        (
            "a new section is added at the end after a blank line",
            CONF,
            &[Op::Set("ip#1.ipname", "10.0.0.5"), Op::Set("ip#1.ipdev", "eth0")],
            concat!(
                "# web service, maintained by ops\n[DEFAULT]\nnodes = n1 n2\n",
                "; preferred node first\norchestrate = ha\n\n[fs#1]\ndev = /dev/vg/lv\n",
                "mnt = /srv/web\nmnt_opt = rw\nmnt_opt@n2 = ro\n# the type matters for fsck\n",
                "type = ext4\n\n[container#1]\ntype = podman\nrun_args = --net=host\n",
                "    # the data volume\n    -v /data:/data\nrun_image = busybox\n\n",
                "[ip#1]\nipname = 10.0.0.5\nipdev = eth0\n"
            )
            .into(),
        ),
        (
            "a missing DEFAULT goes first",
            "# c\n[fs#1]\nmnt = /m\n",
            &[Op::Set("nodes", "n1")],
            "# c\n[DEFAULT]\nnodes = n1\n\n[fs#1]\nmnt = /m\n".into(),
        ),
        (
            "spacing and separator of the key line are kept",
            "[DEFAULT]\n  nodes:n1\nenv  =  PRD\n",
            &[Op::Set("nodes", "n1 n2"), Op::Set("env", "DEV")],
            "[DEFAULT]\n  nodes:n1 n2\nenv  =  DEV\n".into(),
        ),
        (
            "an alias names the keyword written under its other name",
            "[container#1]\ntype = podman\nrun_image = a\n",
            &[Op::Set("container#1.image", "b")],
            "[container#1]\ntype = podman\nrun_image = b\n".into(),
        ),
        (
            "CRLF files stay CRLF; a missing last line end is added",
            "[DEFAULT]\r\nnodes = n1\r\nenv = PRD",
            &[Op::Set("orchestrate", "ha")],
            "[DEFAULT]\r\nnodes = n1\r\nenv = PRD\r\norchestrate = ha\r\n".into(),
        ),
        (
            "remove a section with its comments; the one after keeps its comment",
            "[DEFAULT]\nnodes = n1\n\n[ip#1]\n# addr\nipname = a\n\n# the fs\n[fs#1]\nmnt = /m\n",
            &[Op::RemoveSection("ip#1")],
            "[DEFAULT]\nnodes = n1\n\n# the fs\n[fs#1]\nmnt = /m\n".into(),
        ),
        (
            "remove the last section",
            CONF,
            &[Op::RemoveSection("container#1")],
            CONF.replacen(
                "\n[container#1]\ntype = podman\nrun_args = --net=host\n    # the data volume\n    -v /data:/data\nrun_image = busybox\n",
                "",
                1,
            ),
        ),
        (
            "an empty value",
            "[DEFAULT]\nnodes = n1\n",
            &[Op::Set("env", "")],
            "[DEFAULT]\nnodes = n1\nenv =\n".into(),
        ),
    ];
    for (what, input, ops, want) in &cases {
        let mut d = doc(input);
        for op in *ops {
            match op {
                Op::Set(k, v) => d.set(&key(k), v).unwrap(),
                Op::Unset(k) => assert!(d.unset(&key(k)), "{what}: {k} not found"),
                Op::RemoveSection(s) => assert!(d.remove_section(s), "{what}: no [{s}]"),
            }
        }
        assert_eq!(&d.text(), want, "{what}");
    }
}

#[test]
fn get_reads_what_loading_reads() {
    let d = doc(CONF);
    let cases = [
        ("nodes", Some("n1 n2")),
        ("DEFAULT.orchestrate", Some("ha")),
        ("fs#1.mnt_opt", Some("rw")),
        ("fs#1.mnt_opt@n2", Some("ro")),
        ("fs#1.mnt_opt@n3", None),
        ("container#1.run_args", Some("--net=host\n-v /data:/data")),
        ("container#1.image", Some("busybox")),
        ("ip#1.ipname", None),
    ];
    for (k, want) in cases {
        assert_eq!(d.get(&key(k)).as_deref(), want, "{k}");
    }
    assert_eq!(d.section_names(), ["DEFAULT", "fs#1", "container#1"]);
    assert_eq!(
        d.keys("fs#1"),
        ["dev", "mnt", "mnt_opt", "mnt_opt@n2", "type"]
    );
}

#[test]
fn unwritable_values_change_nothing() {
    for v in ["a\n# not a comment", "a\n; x", "a\n\n"] {
        let mut d = doc(CONF);
        let e = d.set(&key("fs#1.mnt_opt"), v);
        if v == "a\n\n" {
            // Trailing blank lines are dropped by the reader, as from any file: same value.
            assert!(e.is_ok());
            continue;
        }
        assert_eq!(
            e.unwrap_err(),
            EditError::Unwritable {
                section: "fs#1".into(),
                keyword: "mnt_opt".into()
            },
            "{v:?}"
        );
        assert_eq!(d.text(), CONF, "{v:?}");
    }
    let mut d = doc(CONF);
    assert!(!d.unset(&key("fs#1.nothing")));
    assert!(!d.unset(&key("nosuch#1.mnt")));
    assert!(!d.remove_section("nosuch#1"));
    assert_eq!(d.text(), CONF);
}

#[test]
fn keys_and_assignments() {
    let ok = [
        ("nodes", "DEFAULT", "nodes"),
        ("DEFAULT.nodes", "DEFAULT", "nodes"),
        ("fs#1.mnt_opt@n2", "fs#1", "mnt_opt@n2"),
        ("container#web.image", "container#web", "image"),
        ("env.my_var", "env", "my_var"),
        ("nodes@drpnodes", "DEFAULT", "nodes@drpnodes"),
        ("subset#app:web.parallel", "subset#app:web", "parallel"),
        (
            "subset#container.docker:01web.parallel",
            "subset#container.docker:01web",
            "parallel",
        ),
    ];
    for (s, sec, kw) in ok {
        assert_eq!(
            Key::parse(s).unwrap(),
            Key {
                section: sec.into(),
                keyword: kw.into()
            },
            "{s}"
        );
    }
    for bad in [
        "",
        ".",
        "fs#1:x.mnt",
        "subset#app:web.a:b",
        "fs#1.",
        ".mnt",
        "fs#1.a b",
        "a@",
        "fs#1.mnt@",
        "[x].y",
        "#x",
    ] {
        assert_eq!(Key::parse(bad), Err(EditError::BadKey(bad.into())), "{bad}");
    }
    assert_eq!(
        Key::parse_assignment("fs#1.mnt_opt=rw,uid=0").unwrap(),
        (key("fs#1.mnt_opt"), "rw,uid=0".to_string())
    );
    assert_eq!(
        Key::parse_assignment("nodes").unwrap_err().to_string(),
        "bad --kw 'nodes': expected KEY=VALUE"
    );
}

#[test]
fn a_broken_file_is_refused_with_the_reader_error() {
    let e = Doc::parse("[DEFAULT]\nnodes = n1\njunk\n", Path::new("web.conf")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "web.conf:3: syntax error: expected 'key = value'"
    );
}

fn value_line() -> impl Strategy<Value = String> {
    "[A-Za-z0-9/=:._,-][A-Za-z0-9 /=:._,#;-]{0,12}"
}

proptest! {
    /// Whatever is set reads back (trimmed) and leaves every other key's value as it was.
    #[test]
    fn set_reads_back_and_touches_nothing_else(
        lines in proptest::collection::vec(value_line(), 1..4),
        which in 0usize..4,
    ) {
        let keys = ["orchestrate", "fs#1.mnt_opt@n2", "container#1.run_args", "ip#9.ipname"];
        let k = key(keys[which]);
        let value = lines.join("\n");
        let mut d = doc(CONF);
        d.set(&k, &value).unwrap();
        let want: Vec<&str> = value.split('\n').map(str::trim).collect();
        prop_assert_eq!(d.get(&k), Some(want.join("\n")));
        let before = doc(CONF);
        for sec in before.section_names() {
            for kw in before.keys(&sec) {
                let other = Key { section: sec.clone(), keyword: kw };
                if other != k {
                    prop_assert_eq!(d.get(&other), before.get(&other));
                }
            }
        }
        prop_assert!(d.unset(&k));
        if which == 3 {
            prop_assert_eq!(d.get(&k), None);
        }
    }
}
