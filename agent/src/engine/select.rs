//! Which resources an action applies to: `--rid`, `--tags`, and the group of `startip`-style
//! actions.

use resources::Resource;
use svcconf::Group;

use super::ActionError;
use crate::model::Item;
use crate::service::Service;

/// Which resources an action applies to.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    /// `--rid ip#1,fs`: exact rids or group names; a vg's rid also selects its reservation
    /// (`vg#1` selects `vg#1pr`: a VG is never activated unguarded).
    pub rids: Vec<String>,
    /// `--tags a,b`: resources carrying any of them.
    pub tags: Vec<String>,
    /// Set by `startip`-style actions.
    pub group: Option<Group>,
    /// `startstandby`: the `standby` resources only.
    pub standby_only: bool,
}

impl Selection {
    fn matches(&self, it: &Item) -> bool {
        let rid_ok = self.rids.is_empty()
            || self.rids.iter().any(|r| {
                r == &it.rc.rid
                    || Group::from_name(r).is_some_and(|g| g == it.rc.group)
                    || (matches!(it.res, Resource::Pr(_))
                        && it.rc.rid.strip_suffix("pr") == Some(r.as_str()))
            });
        let tag_ok =
            self.tags.is_empty() || self.tags.iter().any(|t| it.rc.common.tags.contains(t));
        let group_ok = self.group.is_none_or(|g| g == it.rc.group);
        let standby_ok = !self.standby_only || it.rc.common.standby;
        rid_ok && tag_ok && group_ok && standby_ok
    }

    fn describe(&self) -> String {
        let mut v = Vec::new();
        if !self.rids.is_empty() {
            v.push(format!("--rid {}", self.rids.join(",")));
        }
        if !self.tags.is_empty() {
            v.push(format!("--tags {}", self.tags.join(",")));
        }
        if let Some(g) = self.group {
            v.push(format!("group {}", g.name()));
        }
        if self.standby_only {
            v.push("standby resources".to_string());
        }
        v.join(" ")
    }
}

impl Service {
    pub fn select(&self, sel: &Selection) -> Result<Vec<&Item>, ActionError> {
        let v: Vec<&Item> = self.items.iter().filter(|it| sel.matches(it)).collect();
        if v.is_empty() && (!sel.rids.is_empty() || !sel.tags.is_empty()) {
            return Err(ActionError::NoMatch(sel.describe()));
        }
        Ok(v)
    }
}
