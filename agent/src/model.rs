//! The types shared by the loader, the engine, the status computation, sync and rendering
//! (a leaf module: it depends on no other module of the agent).

use resources::{Resource, Status};
use serde::{Deserialize, Serialize};
use svcconf::ResourceConfig;

pub struct Item {
    pub rc: ResourceConfig,
    pub res: Resource,
}

impl Item {
    pub fn rid(&self) -> &str {
        &self.rc.rid
    }

    /// A vg's SCSI reservation (`vg#1pr`), as the loader makes it.
    pub fn is_reservation(&self) -> bool {
        self.rc.group == svcconf::Group::Vg && self.rc.rtype.as_deref() == Some("scsireserv")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Flags {
    pub monitor: bool,
    pub disabled: bool,
    pub optional: bool,
    pub encap: bool,
    pub standby: bool,
}

impl Flags {
    /// The 4-character flags column: M monitor, D disabled, O optional, E encap.
    pub fn column(&self) -> String {
        [
            (self.monitor, 'M'),
            (self.disabled, 'D'),
            (self.optional, 'O'),
            (self.encap, 'E'),
        ]
        .iter()
        .map(|&(on, c)| if on { c } else { '.' })
        .collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResEntry {
    pub rid: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub status: Status,
    pub label: String,
    pub log: Vec<String>,
    pub flags: Flags,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SvcStatus {
    pub svcname: String,
    /// When the evaluation began (RFC 3339, UTC, milliseconds: such strings sort by time).
    pub updated_at: String,
    pub nodename: String,
    pub overall: Status,
    pub avail: Status,
    pub frozen: bool,
    pub resources: Vec<ResEntry>,
    pub sync: Status,
    pub sync_resources: Vec<ResEntry>,
    pub hb: Status,
    /// One entry per heartbeat path, filled by the daemon (empty when evaluated locally).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hb_resources: Vec<ResEntry>,
    /// An action running, or one that did not end (`interrupted start (pid 1234, 12:03:01)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}
