//! `/proc/self/mountinfo` parsing (pure, unit-tested).

/// One mount as the kernel lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    /// `major:minor` of the mounted filesystem's device.
    pub major: u32,
    pub minor: u32,
    /// The directory of the filesystem that is mounted here: `/` for a whole filesystem,
    /// the subtree's path for a bind mount of a subtree.
    pub root: String,
    pub mountpoint: String,
    pub fstype: String,
    pub source: String,
}

/// Undo the kernel's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).filter(|o| {
            b[i] == b'\\' && o[0] <= b'3' && o.iter().all(|c| (b'0'..=b'7').contains(c))
        });
        match octal {
            Some(o) => {
                out.push((o[0] - b'0') * 64 + (o[1] - b'0') * 8 + (o[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_line(line: &str) -> Option<Mount> {
    let (pre, post) = line.split_once(" - ")?;
    let pre: Vec<&str> = pre.split(' ').collect();
    let post: Vec<&str> = post.split(' ').collect();
    let (major, minor) = pre.get(2)?.split_once(':')?;
    Some(Mount {
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
        root: unescape(pre.get(3)?),
        mountpoint: unescape(pre.get(4)?),
        fstype: post.first()?.to_string(),
        source: unescape(post.get(1)?),
    })
}

/// All mounts, in mount order; malformed lines are skipped.
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

/// The mount visible at `mountpoint` (spelt as the kernel does): the last one stacked there.
pub fn last_at<'a>(mounts: &'a [Mount], mountpoint: &str) -> Option<&'a Mount> {
    mounts.iter().rev().find(|m| m.mountpoint == mountpoint)
}

/// Whether the filesystem mounted at `m` is also mounted somewhere outside the tree rooted
/// at `tree`: then its users are not only the tree's.
pub fn mounted_outside(mounts: &[Mount], m: &Mount, tree: &str) -> bool {
    let prefix = format!("{}/", tree.trim_end_matches('/'));
    mounts.iter().any(|o| {
        (o.major, o.minor) == (m.major, m.minor)
            && o.mountpoint != tree
            && !o.mountpoint.starts_with(&prefix)
    })
}

/// Mounts strictly below `mnt`, deepest first (the order to unmount them).
pub fn submounts<'a>(mounts: &'a [Mount], mnt: &str) -> Vec<&'a Mount> {
    let prefix = format!("{}/", mnt.trim_end_matches('/'));
    let mut v: Vec<&Mount> = mounts
        .iter()
        .filter(|m| m.mountpoint.starts_with(&prefix))
        .collect();
    v.sort_by_key(|m| std::cmp::Reverse(m.mountpoint.matches('/').count()));
    v.dedup_by(|a, b| a.mountpoint == b.mountpoint);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANNED: &str = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
25 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw,size=10240k
301 22 7:3 / /srv/web rw,relatime shared:150 - ext4 /dev/loop3 rw
302 301 7:4 / /srv/web/data rw,relatime shared:151 - ext4 /dev/loop4 rw
303 302 0:60 / /srv/web/data/tmp rw - tmpfs tmpfs rw
304 22 7:5 / /srv/with\\040space rw - ext4 /dev/loop5 rw
305 22 7:3 / /srv/webx rw - ext4 /dev/loop3 rw
";

    #[test]
    fn parses_fields() {
        let m = parse(CANNED);
        assert_eq!(m.len(), 7);
        assert_eq!(
            m[2],
            Mount {
                major: 7,
                minor: 3,
                root: "/".into(),
                mountpoint: "/srv/web".into(),
                fstype: "ext4".into(),
                source: "/dev/loop3".into()
            }
        );
    }

    #[test]
    fn unescapes_spaces() {
        let m = parse(CANNED);
        assert_eq!(m[5].mountpoint, "/srv/with space");
    }

    #[test]
    fn optional_fields_are_skipped() {
        let m = parse("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue\n");
        assert_eq!(m[0].root, "/mnt1");
        assert_eq!(m[0].mountpoint, "/mnt2");
        assert_eq!(m[0].fstype, "ext3");
        assert_eq!(m[0].source, "/dev/root");
    }

    #[test]
    fn submounts_deepest_first_and_not_siblings() {
        let m = parse(CANNED);
        let s: Vec<&str> = submounts(&m, "/srv/web/")
            .iter()
            .map(|m| m.mountpoint.as_str())
            .collect();
        assert_eq!(s, vec!["/srv/web/data/tmp", "/srv/web/data"]);
    }

    #[test]
    fn root_field_of_bind_mounts() {
        let m = parse(BINDS);
        assert_eq!(m[1].root, "/");
        assert_eq!(m[2].root, "/tmp/lab/src");
        assert_eq!(m[3].root, "/");
        assert_eq!(m[4].root, "/with space");
    }

    #[test]
    fn a_filesystem_mounted_outside_the_tree_is_shared() {
        let m = parse(BINDS);
        // The bind of a root subtree and the bind of / itself share the root device.
        assert!(mounted_outside(&m, &m[2], "/srv/web"));
        assert!(mounted_outside(&m, &m[3], "/srv/web"));
        // The service's own filesystem and a tmpfs below it are only in the tree.
        assert!(!mounted_outside(&m, &m[1], "/srv/web"));
        assert!(!mounted_outside(&m, &m[5], "/srv/web"));
        // Also mounted on a sibling that only shares a name prefix: outside.
        assert!(mounted_outside(&m, &m[7], "/srv/web"));
    }

    #[test]
    fn last_at_takes_the_top_of_a_stack_and_exact_names_only() {
        let m = parse(BINDS);
        assert_eq!(
            last_at(&m, "/srv/web/tmp").map(|m| m.fstype.as_str()),
            Some("tmpfs")
        );
        assert_eq!(
            last_at(&m, "/srv/web").map(|m| (m.major, m.minor)),
            Some((7, 3))
        );
        assert!(last_at(&m, "/srv/web/").is_none());
        assert!(last_at(&m, "/srv").is_none());
    }

    const BINDS: &str = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
301 22 7:3 / /srv/web rw,relatime shared:150 - ext4 /dev/loop3 rw
302 301 254:0 /tmp/lab/src /srv/web/shared rw,relatime shared:1 - ext4 /dev/vda rw
303 301 254:0 / /srv/web/all rw,relatime shared:1 - ext4 /dev/vda rw
304 301 7:3 /with\\040space /srv/web/self rw - ext4 /dev/loop3 rw
305 301 0:61 / /srv/web/tmp rw - tmpfs tmpfs rw
306 22 7:9 / /srv/webx rw - ext4 /dev/loop9 rw
307 22 7:9 / /srv/web/x rw - ext4 /dev/loop9 rw
";

    #[test]
    fn garbage_is_skipped() {
        assert!(parse("garbage\n\n1 2 x\n").is_empty());
    }
}
