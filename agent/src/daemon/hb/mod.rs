//! Heartbeats: the subsystem that tells this node's peers it lives and what it runs, and
//! learns the same of them. One task owns the membership and the counters; one task per
//! `[[hb]]` path sends the current beat (every interval and on change) and hands what it
//! receives to the owner over a bounded channel. On a clean stop the paths send a last
//! `Stopping` beat, which peers honour as maintenance for `maintenance_grace_period`.

pub mod codec;
pub mod disk;
pub mod message;
mod probe;
pub mod render;
pub mod replay;
pub mod rtt;
pub mod unicast;
pub mod view;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use svcconf::{HbConfig, HbKind, NodeConfig};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use self::codec::{ClusterKey, Drop, Opened, Sealer};
use self::message::{Beat, BeatKind};
use self::view::{ClusterView, NodeView, PathView};
use super::membership::{HbMembership, Membership, PathTimeout, PeerState};
use super::state::{Event, Services};
use crate::paths::Root;

/// Events from the paths waiting for the owner task; more are dropped and counted.
const EVENTS_QUEUE: usize = 1024;
/// One log line per source of dropped datagrams at most this often.
const DROP_LOG_EVERY: Duration = Duration::from_secs(10);
/// And at most this many drop lines in such a window, all sources together.
const DROP_LINES_MAX: u32 = 10;
/// The published view's refresh period when nothing changed.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);

#[derive(Clone)]
pub struct HbHandle {
    pub view: watch::Receiver<Arc<ClusterView>>,
}

pub struct Heartbeats {
    pub root: Root,
    pub node: NodeConfig,
    pub services: watch::Receiver<Arc<Services>>,
    /// The orchestrator's per-service word (failed start, action running).
    pub orch: watch::Receiver<Arc<crate::daemon::orchestrator::Local>>,
    pub events: broadcast::Sender<Event>,
    pub token: CancellationToken,
}

/// What a path reports to the owner task.
pub enum PathEvent {
    Rx {
        path: usize,
        opened: Box<Opened>,
        bytes: usize,
        /// The round trip measured with this beat's ack of ours (network paths).
        rtt: Option<Duration>,
    },
    Dropped {
        path: usize,
        reason: Drop,
        source: String,
    },
    Sent {
        path: usize,
        peer: String,
        ok: bool,
        bytes: usize,
    },
    Error {
        path: usize,
        error: Option<String>,
    },
}

/// What a path task needs.
#[derive(Clone)]
pub struct PathCtx {
    pub index: usize,
    pub cfg: HbConfig,
    pub nodename: String,
    /// The cluster's nodes, sorted (disk slots).
    pub nodes: Vec<String>,
    /// (peer, address on this path).
    pub peers: Vec<(String, String)>,
    pub peer_set: BTreeSet<String>,
    pub key: ClusterKey,
    pub sealer: Arc<Sealer>,
    pub beat: watch::Receiver<Arc<Beat>>,
    tx: mpsc::Sender<PathEvent>,
    overflow: Arc<AtomicU64>,
    pub token: CancellationToken,
}

impl PathCtx {
    pub fn emit(&self, e: PathEvent) {
        if self.tx.try_send(e).is_err() {
            self.overflow.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The current beat, sealed with the next sequence number.
    pub fn seal(&self) -> Option<Vec<u8>> {
        self.seal_with_acks(Vec::new()).map(|(_, d)| d)
    }

    /// The current beat with `acks`, sealed; with its sequence number.
    pub fn seal_with_acks(&self, acks: Vec<message::Ack>) -> Option<(u64, Vec<u8>)> {
        let beat = self.beat.borrow().clone();
        let r = if acks.is_empty() {
            self.sealer.seal_numbered(&beat)
        } else {
            let mut b = (*beat).clone();
            b.acks = acks;
            self.sealer.seal_numbered(&b)
        };
        match r {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::error!("hb#{}: {e}", self.index + 1);
                None
            }
        }
    }
}

/// Why heartbeats can not run with this config, if they can not.
pub fn disabled_reason(node: &NodeConfig) -> Option<String> {
    if node.hb.is_empty() {
        return Some("no [[hb]] path in node.toml".into());
    }
    if node
        .cluster
        .secret
        .as_deref()
        .is_none_or(|s| s.trim().is_empty())
    {
        return Some(
            "heartbeats not started: node.toml has [[hb]] paths but no [cluster] secret (every node needs the same one)".into(),
        );
    }
    if node.nodename.len() > codec::MAX_SENDER {
        return Some(format!(
            "heartbeats not started: the node name is longer than {} bytes",
            codec::MAX_SENDER
        ));
    }
    None
}

pub fn cluster_name(node: &NodeConfig) -> String {
    node.cluster
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "default".into())
}

impl Heartbeats {
    pub fn spawn(self) -> (HbHandle, tokio::task::JoinHandle<()>) {
        let disabled = disabled_reason(&self.node);
        let view = ClusterView {
            nodename: self.node.nodename.clone(),
            cluster: cluster_name(&self.node),
            disabled: disabled.clone(),
            ..ClusterView::default()
        };
        let (tx, rx) = watch::channel(Arc::new(view));
        let task = match disabled {
            Some(why) => {
                if !self.node.hb.is_empty() {
                    tracing::error!("{why}");
                }
                let token = self.token.clone();
                tokio::spawn(async move {
                    let _tx = tx;
                    token.cancelled().await
                })
            }
            None => tokio::spawn(self.run(tx)),
        };
        (HbHandle { view: rx }, task)
    }

    async fn run(mut self, view_tx: watch::Sender<Arc<ClusterView>>) {
        let node = self.node.clone();
        let me = node.nodename.clone();
        let nodes = node.cluster_nodes();
        let peers: Vec<String> = nodes.iter().filter(|n| **n != me).cloned().collect();
        let key = ClusterKey::new(
            &cluster_name(&node),
            node.cluster.secret.as_deref().unwrap_or(""),
        );
        let sealer = Arc::new(Sealer::new(key.clone(), &me, codec::boot_id_now()));
        let started = Instant::now();
        let mut probe = probe::Probe::new(self.root.clone());
        let mut beat = Beat::alive(env!("CARGO_PKG_VERSION"));
        probe.fill(
            &mut beat,
            &self.services.borrow(),
            &self.orch.borrow(),
            started.elapsed(),
        );
        let (beat_tx, beat_rx) = watch::channel(Arc::new(beat));
        let (ev_tx, mut ev_rx) = mpsc::channel(EVENTS_QUEUE);
        let overflow = Arc::new(AtomicU64::new(0));
        let paths_token = CancellationToken::new();
        let mut tasks = Vec::new();
        let mut own = Owner::new(&node, &peers, started);
        for (i, cfg) in node.hb.iter().enumerate() {
            let ctx = PathCtx {
                index: i,
                cfg: cfg.clone(),
                nodename: me.clone(),
                nodes: nodes.clone(),
                peers: peers
                    .iter()
                    .map(|p| (p.clone(), node.hb_addr(cfg, p)))
                    .collect(),
                peer_set: peers.iter().cloned().collect(),
                key: key.clone(),
                sealer: sealer.clone(),
                beat: beat_rx.clone(),
                tx: ev_tx.clone(),
                overflow: overflow.clone(),
                token: paths_token.clone(),
            };
            tasks.push(match cfg.kind {
                HbKind::Unicast => tokio::spawn(unicast::run(ctx)),
                HbKind::Disk => tokio::spawn(disk::run(ctx)),
            });
        }
        tracing::info!(
            "heartbeats: cluster {}, boot id {}, {} path(s) to {}",
            cluster_name(&node),
            sealer.boot_id,
            node.hb.len(),
            if peers.is_empty() {
                "no peer".to_string()
            } else {
                peers.join(" ")
            }
        );
        let fastest = node
            .hb
            .iter()
            .map(HbConfig::interval)
            .min()
            .unwrap_or(Duration::from_secs(1));
        // Checked often enough that lost is seen within a few percent of the timeout.
        let mut check = tokio::time::interval(
            (fastest / 10).clamp(Duration::from_millis(10), Duration::from_millis(200)),
        );
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut published: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = self.token.cancelled() => break,
                Some(e) = ev_rx.recv() => own.handle(e, Instant::now()),
                // A service's state or the orchestrator's word on it changed: a new beat.
                r = async {
                    tokio::select! {
                        r = self.services.changed() => r,
                        r = self.orch.changed() => r,
                    }
                } => {
                    if r.is_err() { break }
                    let (svcs, orch) = (self.services.borrow().clone(), self.orch.borrow().clone());
                    beat_tx.send_modify(|b| probe.fill(Arc::make_mut(b), &svcs, &orch, started.elapsed()));
                }
                _ = check.tick() => {
                    let svcs = self.services.borrow().clone();
                    // Uptime and load change all the time: sent on the interval, not on change.
                    beat_tx.send_if_modified(|b| {
                        probe.refresh(Arc::make_mut(b), &svcs, started.elapsed());
                        false
                    });
                    let now = Instant::now();
                    own.overflow = overflow.load(Ordering::Relaxed);
                    let evs = own.transitions(now);
                    let changed = !evs.is_empty();
                    for ev in evs {
                        let _ = self.events.send(ev);
                    }
                    // The view is rebuilt on a change, else every PUBLISH_EVERY.
                    if !changed && published.is_some_and(|p: Instant| now.saturating_duration_since(p) < PUBLISH_EVERY) {
                        continue;
                    }
                    published = Some(now);
                    view_tx.send_replace(Arc::new(own.view(&me, &cluster_name(&node), &beat_tx.borrow(), sealer.boot_id, now)));
                }
            }
        }
        // A clean stop: the last beat on every path says so.
        beat_tx.send_modify(|b| Arc::make_mut(b).kind = BeatKind::Stopping);
        tokio::time::sleep(Duration::from_millis(300)).await;
        paths_token.cancel();
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        tracing::info!("heartbeats stopped (a stopping beat was sent)");
    }
}

/// The owner task's state: membership, last beats, counters, log limits.
struct Owner {
    mem: HbMembership,
    peers: Vec<String>,
    paths: Vec<PathView>,
    sent_ok: Vec<BTreeMap<String, bool>>,
    beats: BTreeMap<String, (u64, Beat)>,
    states: BTreeMap<String, PeerState>,
    path_warn: BTreeMap<(usize, String), bool>,
    /// Per source: when its last drop line was logged, and the drops since.
    drop_log: BTreeMap<String, (Option<Instant>, u64)>,
    /// Drop lines logged in the current window, for every source together.
    drop_lines: (Option<Instant>, u32),
    overflow: u64,
}

impl Owner {
    fn new(node: &NodeConfig, peers: &[String], started: Instant) -> Owner {
        let paths: Vec<PathView> = node
            .hb
            .iter()
            .enumerate()
            .map(|(i, h)| PathView {
                name: format!("hb#{}", i + 1),
                kind: h.kind.as_str().into(),
                target: match h.kind {
                    HbKind::Unicast => format!(":{}", h.port()),
                    HbKind::Disk => h
                        .dev
                        .as_ref()
                        .map(|d| d.display().to_string())
                        .unwrap_or_default(),
                },
                interval_ms: h.interval().as_millis() as u64,
                timeout_ms: h.timeout().as_millis() as u64,
                ..PathView::default()
            })
            .collect();
        let timeouts = node
            .hb
            .iter()
            .map(|h| PathTimeout {
                timeout: h.timeout(),
            })
            .collect();
        Owner {
            mem: HbMembership::new(
                peers,
                timeouts,
                started,
                node.maintenance_grace_period(),
                node.rejoin_grace_period(),
            ),
            peers: peers.to_vec(),
            sent_ok: vec![BTreeMap::new(); paths.len()],
            paths,
            beats: BTreeMap::new(),
            states: peers
                .iter()
                .map(|p| (p.clone(), PeerState::Unknown))
                .collect(),
            path_warn: BTreeMap::new(),
            drop_log: BTreeMap::new(),
            drop_lines: (None, 0),
            overflow: 0,
        }
    }

    fn handle(&mut self, e: PathEvent, now: Instant) {
        match e {
            PathEvent::Rx {
                path,
                opened,
                bytes,
                rtt,
            } => {
                let o = *opened;
                let stopping = o.beat.kind == BeatKind::Stopping;
                self.mem
                    .heard(path, &o.sender, (o.boot_id, o.seq), stopping, now);
                if let Some(p) = self.paths.get_mut(path) {
                    p.received += 1;
                    p.bytes_received += bytes as u64;
                    let e = p.peers.entry(o.sender.clone()).or_default();
                    e.received += 1;
                    if let Some(r) = rtt {
                        smooth(e, r.as_secs_f64() * 1000.0);
                    }
                }
                let newer = self
                    .beats
                    .get(&o.sender)
                    .is_none_or(|(b, _)| o.boot_id >= *b);
                if newer {
                    self.beats.insert(o.sender, (o.boot_id, o.beat));
                }
            }
            PathEvent::Dropped {
                path,
                reason,
                source,
            } => {
                if let Some(p) = self.paths.get_mut(path) {
                    *p.dropped.entry(reason.as_str().into()).or_default() += 1;
                }
                self.log_drop(path, reason, &source, now);
            }
            PathEvent::Sent {
                path,
                peer,
                ok,
                bytes,
            } => {
                if let Some(p) = self.paths.get_mut(path) {
                    if ok {
                        p.sent += 1;
                        p.bytes_sent += bytes as u64;
                    } else {
                        p.send_errors += 1;
                    }
                }
                if let Some(m) = self.sent_ok.get_mut(path) {
                    m.insert(peer, ok);
                }
            }
            PathEvent::Error { path, error } => {
                if let Some(p) = self.paths.get_mut(path) {
                    p.error = error;
                }
            }
        }
    }

    fn log_drop(&mut self, path: usize, reason: Drop, source: &str, now: Instant) {
        if self.drop_log.len() > 256 {
            self.drop_log.clear();
        }
        let within = |at: Option<Instant>| {
            at.is_some_and(|t| now.saturating_duration_since(t) < DROP_LOG_EVERY)
        };
        if !within(self.drop_lines.0) {
            self.drop_lines = (Some(now), 0);
        }
        // The address without its port: a flood from many ports is one source.
        let key = source
            .rsplit_once(':')
            .map_or(source, |(a, _)| a)
            .to_string();
        let e = self.drop_log.entry(key).or_insert((None, 0));
        if within(e.0) || self.drop_lines.1 >= DROP_LINES_MAX {
            e.1 += 1;
            return;
        }
        self.drop_lines.1 += 1;
        let more = if e.1 > 0 {
            format!(" ({} more from it since the last line)", e.1)
        } else {
            String::new()
        };
        tracing::warn!(
            "hb#{}: dropped a datagram from {source}: {}{more}",
            path + 1,
            reason.as_str()
        );
        *e = (Some(now), 0);
    }

    /// Peer state changes and path warnings since the last call, logged and as events.
    fn transitions(&mut self, now: Instant) -> Vec<Event> {
        let mut out = Vec::new();
        for peer in self.peers.clone() {
            let new = self.mem.state(&peer, now).unwrap_or(PeerState::Unknown);
            let old = self
                .states
                .insert(peer.clone(), new)
                .unwrap_or(PeerState::Unknown);
            if new != old {
                let why = match new {
                    PeerState::Lost => format!("every path stale: {}", self.staleness(&peer, now)),
                    PeerState::Maintenance => "its daemon announced a clean stop".to_string(),
                    _ => String::new(),
                };
                let msg = format!(
                    "{} -> {}{}",
                    old.as_str(),
                    new.as_str(),
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(" ({why})")
                    }
                );
                if new == PeerState::Lost {
                    tracing::warn!("node {peer}: {msg}");
                } else {
                    tracing::info!("node {peer}: {msg}");
                }
                let mut ev = Event::new("node", None);
                ev.node = Some(peer.clone());
                ev.state = Some(new.as_str().into());
                ev.message = Some(msg);
                out.push(ev);
            }
            for i in 0..self.paths.len() {
                let warn = new == PeerState::Up && !self.mem.fresh(&peer, i, now);
                let was = self
                    .path_warn
                    .insert((i, peer.clone()), warn)
                    .unwrap_or(false);
                if warn != was {
                    let name = &self.paths[i].name;
                    if warn {
                        tracing::warn!(
                            "{name}: {peer} stale on this path ({}), still up on another",
                            self.staleness(&peer, now)
                        );
                    } else {
                        tracing::info!("{name}: {peer} heard again on this path");
                    }
                }
            }
        }
        out
    }

    fn staleness(&self, peer: &str, now: Instant) -> String {
        (0..self.paths.len())
            .map(|i| match self.mem.last_seen(peer, i, now) {
                Some(d) => format!("{} last heard {}ms ago", self.paths[i].name, d.as_millis()),
                None => format!("{} never heard", self.paths[i].name),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn view(
        &mut self,
        me: &str,
        cluster: &str,
        own: &Beat,
        boot_id: u64,
        now: Instant,
    ) -> ClusterView {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            me.to_string(),
            node_view(PeerState::Up, Some((boot_id, own)), Some(0)),
        );
        for peer in &self.peers {
            let state = self.mem.state(peer, now).unwrap_or(PeerState::Unknown);
            let last = (0..self.paths.len())
                .filter_map(|i| self.mem.last_seen(peer, i, now))
                .min();
            let beat = self.beats.get(peer).map(|(b, beat)| (*b, beat));
            nodes.insert(
                peer.clone(),
                node_view(state, beat, last.map(|d| d.as_millis() as u64)),
            );
        }
        let mut paths = self.paths.clone();
        for (i, p) in paths.iter_mut().enumerate() {
            for peer in &self.peers {
                let e = p.peers.entry(peer.clone()).or_default();
                e.rx = self.mem.fresh(peer, i, now);
                e.tx = self.sent_ok[i].get(peer).copied().unwrap_or(false);
                e.last_seen_ms = self
                    .mem
                    .last_seen(peer, i, now)
                    .map(|d| d.as_millis() as u64);
            }
            if self.overflow > 0 && i == 0 {
                p.dropped.insert("queue_full".into(), self.overflow);
            }
        }
        ClusterView {
            nodename: me.to_string(),
            cluster: cluster.to_string(),
            disabled: None,
            nodes,
            paths,
            rejoin: Some(self.mem.rejoin(now)),
        }
    }
}

fn node_view(state: PeerState, beat: Option<(u64, &Beat)>, last_seen_ms: Option<u64>) -> NodeView {
    NodeView {
        state,
        version: beat.map(|(_, b)| b.version.clone()),
        uptime_secs: beat.map(|(_, b)| b.uptime_secs),
        load: beat.map(|(_, b)| b.load_centi as f64 / 100.0),
        mem_total_mb: beat.map(|(_, b)| b.mem_total_mb),
        mem_avail_mb: beat.map(|(_, b)| b.mem_avail_mb),
        boot_id: beat.map(|(id, _)| id),
        last_seen_ms,
        services: beat.map(|(_, b)| b.services.clone()).unwrap_or_default(),
    }
}

/// Smoothed as TCP does (RFC 6298): the RTT by 1/8 of each sample, its variation by 1/4.
fn smooth(e: &mut view::PathPeer, r: f64) {
    match e.rtt_ms {
        None => (e.rtt_ms, e.jitter_ms) = (Some(r), Some(r / 2.0)),
        Some(s) => {
            let j = e.jitter_ms.unwrap_or(0.0);
            e.jitter_ms = Some(0.75 * j + 0.25 * (s - r).abs());
            e.rtt_ms = Some(0.875 * s + 0.125 * r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(text: &str) -> NodeConfig {
        svcconf::parse_node(text, std::path::Path::new("node.toml"), "n1")
            .unwrap()
            .0
    }

    const TWO_PATHS: &str =
        "nodename = \"n1\"\n[cluster]\nname = \"c\"\nsecret = \"s\"\n[nodes.n2]\n\
        [[hb]]\ntype = \"unicast\"\ninterval = \"250ms\"\ntimeout = \"1s\"\n\
        [[hb]]\ntype = \"disk\"\ndev = \"/dev/x\"\ninterval = \"250ms\"\ntimeout = \"1s\"\n";

    #[test]
    fn heartbeats_need_paths_and_a_secret() {
        let cases = [
            ("nodename = \"n1\"\n", Some("no [[hb]] path in node.toml")),
            (
                "[cluster]\nname = \"c\"\n[[hb]]\ntype = \"unicast\"\n",
                Some("heartbeats not started: node.toml has [[hb]] paths but no [cluster] secret (every node needs the same one)"),
            ),
            ("[cluster]\nsecret = \" \"\n[[hb]]\ntype = \"unicast\"\n", Some("heartbeats not started: node.toml has [[hb]] paths but no [cluster] secret (every node needs the same one)")),
            ("[cluster]\nsecret = \"s\"\n[[hb]]\ntype = \"unicast\"\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(disabled_reason(&node(text)).as_deref(), want, "{text}");
        }
        assert_eq!(cluster_name(&node("")), "default");
    }

    fn rx(path: usize, seq: u64, kind: BeatKind) -> PathEvent {
        let mut beat = Beat::alive("1.0");
        beat.kind = kind;
        PathEvent::Rx {
            path,
            opened: Box::new(Opened {
                sender: "n2".into(),
                boot_id: 1,
                seq,
                beat,
            }),
            bytes: 100,
            rtt: Some(Duration::from_millis(2)),
        }
    }

    #[test]
    fn owner_reports_transitions_and_counts() {
        let cfg = node(TWO_PATHS);
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut o = Owner::new(&cfg, &["n2".to_string()], t0);
        assert!(o.transitions(t0).is_empty());
        o.handle(rx(0, 1, BeatKind::Alive), ms(10));
        o.handle(rx(1, 1, BeatKind::Alive), ms(10));
        let ev = o.transitions(ms(20));
        assert_eq!(ev.len(), 1);
        assert_eq!(
            (ev[0].node.as_deref(), ev[0].state.as_deref()),
            (Some("n2"), Some("up"))
        );
        // The network path goes quiet, the disk path goes on: up, no new event.
        o.handle(rx(1, 2, BeatKind::Alive), ms(900));
        assert!(o.transitions(ms(1100)).is_empty());
        let v = o.view("n1", "c", &Beat::alive("1.0"), 9, ms(1100));
        assert_eq!(v.nodes["n2"].state, PeerState::Up);
        assert_eq!(
            (v.paths[0].peers["n2"].rx, v.paths[1].peers["n2"].rx),
            (false, true)
        );
        assert_eq!((v.paths[0].received, v.paths[0].bytes_received), (1, 100));
        assert_eq!(v.paths[0].peers["n2"].rtt_ms, Some(2.0));
        // Both quiet for the timeout: lost, and the event says why.
        let ev = o.transitions(ms(1900));
        assert_eq!(ev[0].state.as_deref(), Some("lost"));
        let msg = ev[0].message.as_deref().unwrap_or("");
        assert!(msg.starts_with("up -> lost (every path stale: hb#1 last heard 1890ms ago, hb#2 last heard 1000ms ago"), "{msg}");
        // Back, then a clean stop: maintenance.
        o.handle(rx(0, 3, BeatKind::Alive), ms(2000));
        assert_eq!(o.transitions(ms(2000))[0].state.as_deref(), Some("up"));
        o.handle(rx(0, 4, BeatKind::Stopping), ms(2100));
        assert_eq!(
            o.transitions(ms(2100))[0].state.as_deref(),
            Some("maintenance")
        );
        assert!(o.transitions(ms(5000)).is_empty());
        o.handle(
            PathEvent::Dropped {
                path: 0,
                reason: Drop::Auth,
                source: "10.0.0.9:4000".into(),
            },
            ms(5000),
        );
        let v = o.view("n1", "c", &Beat::alive("1.0"), 9, ms(5000));
        assert_eq!(v.paths[0].dropped["auth"], 1);
        assert_eq!(v.nodes["n2"].state, PeerState::Maintenance);
    }

    #[test]
    fn drop_lines_are_limited() {
        let cfg = node(TWO_PATHS);
        let t0 = Instant::now();
        let mut o = Owner::new(&cfg, &["n2".to_string()], t0);
        for port in 0..100u32 {
            o.log_drop(0, Drop::Auth, &format!("10.0.0.9:{port}"), t0);
        }
        // One line for the address, the other 99 counted against it.
        assert_eq!(o.drop_lines.1, 1);
        assert_eq!(o.drop_log["10.0.0.9"].1, 99);
        for host in 0..50u32 {
            o.log_drop(0, Drop::Auth, &format!("10.0.1.{host}:1"), t0);
        }
        assert_eq!(o.drop_lines.1, DROP_LINES_MAX);
        o.log_drop(0, Drop::Auth, "10.0.0.9:1", t0 + DROP_LOG_EVERY);
        assert_eq!((o.drop_lines.1, o.drop_log["10.0.0.9"].1), (1, 0));
    }
}
