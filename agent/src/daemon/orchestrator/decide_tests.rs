use super::*;

const V: &str = "0.1.0";

/// A node from a short spec: `up`, `lost`, `unknown`, `maint`, then words: `run` (service
/// up there), `frozen`, `failed`, `starting`, `noconf`, `v9` (version 9.0.0).
fn node(spec: &str) -> NodeFacts {
    let mut w = spec.split_whitespace();
    let state = match w.next().unwrap() {
        "up" => PeerState::Up,
        "lost" => PeerState::Lost,
        "unknown" => PeerState::Unknown,
        "maint" => PeerState::Maintenance,
        s => panic!("state {s}"),
    };
    let mut svc = SvcOnNode {
        running: false,
        frozen: false,
        start_failed: false,
        action: None,
    };
    let mut version = Some(V.to_string());
    let mut conf = true;
    for word in w {
        match word {
            "run" => svc.running = true,
            "frozen" => svc.frozen = true,
            "failed" => svc.start_failed = true,
            "starting" => svc.action = Some("start".into()),
            "noconf" => conf = false,
            "v9" => version = Some("9.0.0".into()),
            w => panic!("word {w}"),
        }
    }
    NodeFacts {
        state,
        version,
        svc: conf.then_some(svc),
    }
}

struct Case {
    name: &'static str,
    me: &'static str,
    mode: Orchestrate,
    fenced: bool,
    unfenced_failover: bool,
    autostart: Option<&'static str>,
    nodes: &'static [(&'static str, &'static str)],
    /// Nodes not heard yet (rejoin not done).
    rejoin_wait: &'static [&'static str],
    owner: Option<(&'static str, bool)>,
    first_look: bool,
    fence_failed: Option<&'static str>,
    hb_off: bool,
    /// The service's nodes, when not every node of `nodes`.
    svc_nodes: Option<&'static [&'static str]>,
    target: Option<&'static str>,
    want: &'static str,
}

const BASE: Case = Case {
    name: "",
    me: "n2",
    mode: Orchestrate::Ha,
    fenced: true,
    unfenced_failover: false,
    autostart: None,
    nodes: &[],
    rejoin_wait: &[],
    owner: Some(("n1", true)),
    first_look: false,
    fence_failed: None,
    hb_off: false,
    svc_nodes: None,
    target: None,
    want: "",
};

fn run(c: &Case) -> Verdict {
    with_input(c, decide)
}

fn with_input<T>(c: &Case, f: impl FnOnce(&Input) -> T) -> T {
    let facts: BTreeMap<String, NodeFacts> = c
        .nodes
        .iter()
        .map(|(n, s)| (n.to_string(), node(s)))
        .collect();
    let cfg = OrchCfg {
        mode: c.mode,
        nodes: match c.svc_nodes {
            Some(v) => v.iter().map(|n| n.to_string()).collect(),
            None => c.nodes.iter().map(|(n, _)| n.to_string()).collect(),
        },
        autostart_node: c.autostart.map(str::to_string),
        fenced: c.fenced,
        unfenced_failover: c.unfenced_failover,
    };
    let rejoin = Rejoin {
        done: c.rejoin_wait.is_empty(),
        waiting_for: c.rejoin_wait.iter().map(|s| s.to_string()).collect(),
        remaining_ms: 40_500,
    };
    let memory = Memory {
        owner: c.owner.map(|(o, _)| o.to_string()),
        owner_up: c.owner.is_some_and(|(_, up)| up),
    };
    f(&Input {
        me: c.me,
        version: V,
        cfg: &cfg,
        facts: &facts,
        cluster_size: facts.len(),
        rejoin: &rejoin,
        memory: &memory,
        first_look: c.first_look,
        fence_failed: c.fence_failed.map(|e| (e, 4)),
        heartbeats_off: c.hb_off.then_some("no [[hb]] in node.toml"),
        target: c.target,
    })
}

#[test]
fn every_verdict_and_blocker() {
    let cases = [
        Case {
            name: "owner lost, reservations: the first candidate preempts and starts",
            nodes: &[("n1", "lost run"), ("n2", "up"), ("n3", "up")],
            want: "start here: n1 running it was lost, after preempting n1's reservation",
            ..BASE
        },
        Case {
            name: "the second candidate waits for the first",
            me: "n3",
            nodes: &[("n1", "lost run"), ("n2", "up"), ("n3", "up")],
            want: "not starting: not leader (n2 ranks first)",
            ..BASE
        },
        Case {
            name: "a frozen first candidate is passed over",
            me: "n3",
            nodes: &[("n1", "lost"), ("n2", "up frozen"), ("n3", "up")],
            want: "start here: n1 running it was lost, after preempting n1's reservation",
            ..BASE
        },
        Case {
            name: "frozen here",
            nodes: &[("n1", "lost"), ("n2", "up frozen"), ("n3", "up")],
            want: "not starting: frozen here; not leader (n3 ranks first)",
            ..BASE
        },
        Case {
            name: "no candidate left",
            nodes: &[("n1", "lost"), ("n2", "up failed"), ("n3", "maint")],
            want: "not starting: start failed here (svcmgr clear to retry); \
                   no candidate (n1: lost, n2: start failed, n3: maintenance)",
            ..BASE
        },
        Case {
            name: "a start failed on n2: n3 takes it",
            me: "n3",
            nodes: &[("n1", "lost"), ("n2", "up failed"), ("n3", "up")],
            want: "start here: n1 running it was lost, after preempting n1's reservation",
            ..BASE
        },
        Case {
            name: "a start failed on the owner (up): the next one starts it, nothing to fence",
            nodes: &[("n1", "up failed"), ("n2", "up")],
            want: "start here: the start failed on n1",
            ..BASE
        },
        Case {
            name: "another version is not a candidate",
            nodes: &[("n1", "lost"), ("n2", "up v9"), ("n3", "up")],
            me: "n3",
            want: "start here: n1 running it was lost, after preempting n1's reservation",
            ..BASE
        },
        Case {
            name: "a node without the config is not a candidate",
            nodes: &[("n1", "lost"), ("n2", "up noconf"), ("n3", "up")],
            me: "n3",
            want: "start here: n1 running it was lost, after preempting n1's reservation",
            ..BASE
        },
        Case {
            name: "up somewhere: nothing to do",
            nodes: &[("n1", "up run"), ("n2", "up")],
            want: "up on n1",
            ..BASE
        },
        Case {
            name: "up on a node in maintenance: nothing to do",
            nodes: &[("n1", "maint run"), ("n2", "up")],
            want: "up on n1",
            ..BASE
        },
        Case {
            name: "rejoin wait",
            nodes: &[("n1", "unknown"), ("n2", "up")],
            rejoin_wait: &["n1"],
            want: "not starting: rejoin wait (n1 not heard, 41 s left)",
            ..BASE
        },
        Case {
            name: "a peer is starting it",
            me: "n3",
            nodes: &[("n1", "lost"), ("n2", "up starting"), ("n3", "up")],
            want: "not starting: peer acting (n2 starting)",
            ..BASE
        },
        Case {
            name: "no reservations, no unfenced_failover: no failover, and why",
            fenced: false,
            nodes: &[("n1", "lost run"), ("n2", "up")],
            want: "not starting: not failing over from n1: no fencing (scsireserv) and \
                   unfenced_failover=false",
            ..BASE
        },
        Case {
            name: "unfenced_failover in a majority partition",
            fenced: false,
            unfenced_failover: true,
            nodes: &[("n1", "lost run"), ("n2", "up"), ("n3", "up")],
            want: "start here: n1 running it was lost, unfenced (unfenced_failover=true, n1 \
                   outside this majority partition)",
            ..BASE
        },
        Case {
            name: "unfenced_failover without a majority",
            fenced: false,
            unfenced_failover: true,
            nodes: &[("n1", "lost run"), ("n2", "up")],
            want: "not starting: no quorum (1 of 2 nodes up, 2 needed)",
            ..BASE
        },
        Case {
            name: "fencing failed: retried later",
            nodes: &[("n1", "lost run"), ("n2", "up")],
            fence_failed: Some("/dev/sdb: reservation conflict"),
            want: "not starting: fencing failed: /dev/sdb: reservation conflict (next try in 4 s)",
            ..BASE
        },
        Case {
            name: "stopped on its owner, then the owner was lost: left down",
            nodes: &[("n1", "lost"), ("n2", "up")],
            owner: Some(("n1", false)),
            want: "stopped on n1 before it was lost: the daemon leaves it down",
            ..BASE
        },
        Case {
            name: "stopped on its owner (up): left down",
            nodes: &[("n1", "up"), ("n2", "up")],
            want: "stopped on n1, its last owner: the daemon leaves it down",
            ..BASE
        },
        Case {
            name: "no heartbeats: no failover",
            nodes: &[("n2", "up")],
            svc_nodes: Some(&["n1", "n2"]),
            hb_off: true,
            want: "not starting: heartbeats are off (no [[hb]] in node.toml): no way to tell \
                   what the other nodes run",
            ..BASE
        },
        Case {
            name: "no heartbeats, a one-node service: started at the first look",
            nodes: &[("n2", "up")],
            owner: None,
            first_look: true,
            hb_off: true,
            want: "start here: first look after the daemon started",
            ..BASE
        },
        Case {
            name: "the owner's daemon restarted and has not evaluated it yet",
            nodes: &[("n1", "up noconf"), ("n2", "up")],
            want: "n1, its last owner, does not report it (yet)",
            ..BASE
        },
        Case {
            name: "switch: the owner stops it once the target can take it",
            me: "n1",
            nodes: &[("n1", "up run"), ("n2", "up")],
            target: Some("n2"),
            want: "stop here: switching to n2",
            ..BASE
        },
        Case {
            name: "switch: the target waits for the owner's stop",
            nodes: &[("n1", "up run"), ("n2", "up")],
            target: Some("n2"),
            want: "switching to n2: waiting for n1 to stop it",
            ..BASE
        },
        Case {
            name: "switch: stopped on the owner, the target starts it",
            nodes: &[("n1", "up"), ("n2", "up")],
            target: Some("n2"),
            want: "start here: switch to n2",
            ..BASE
        },
        Case {
            name: "switch: a frozen target, the owner keeps it",
            me: "n1",
            nodes: &[("n1", "up run"), ("n2", "up frozen")],
            target: Some("n2"),
            want: "not starting: switch to n2: n2 can not take it (frozen); it stays where it is",
            ..BASE
        },
        Case {
            name: "switch: stopped here, then the target could not take it: back here",
            me: "n1",
            nodes: &[("n1", "up"), ("n2", "up frozen")],
            target: Some("n2"),
            want: "start here: the switch to n2 can not be done (n2: frozen): back here",
            ..BASE
        },
        Case {
            name: "switch: done",
            me: "n1",
            nodes: &[("n1", "up"), ("n2", "up run")],
            target: Some("n2"),
            want: "up on n2",
            ..BASE
        },
        Case {
            name: "switch: the owner is stopping it",
            nodes: &[("n1", "up run starting"), ("n2", "up")],
            target: Some("n2"),
            want: "not starting: switching to n2: n1 runs start",
            ..BASE
        },
        Case {
            name: "orchestrate=no",
            mode: Orchestrate::No,
            nodes: &[("n1", "lost run"), ("n2", "up")],
            want: "orchestrate=no: the daemon does not start or move it",
            ..BASE
        },
        Case {
            name: "never seen running, not the first look: left down",
            nodes: &[("n1", "up"), ("n2", "up")],
            owner: None,
            want: "down everywhere, never seen running: start it once, the daemon keeps it \
                   running from then on",
            ..BASE
        },
        Case {
            name: "orchestrate=start, first look: autostart_node first",
            mode: Orchestrate::Start,
            me: "n2",
            autostart: Some("n2"),
            nodes: &[("n1", "up"), ("n2", "up")],
            owner: None,
            first_look: true,
            want: "start here: first look after the daemon started",
            ..BASE
        },
        Case {
            name: "orchestrate=start, first look, not the autostart node",
            mode: Orchestrate::Start,
            me: "n1",
            autostart: Some("n2"),
            nodes: &[("n1", "up"), ("n2", "up")],
            owner: None,
            first_look: true,
            want: "not starting: not leader (n2 ranks first)",
            ..BASE
        },
        Case {
            name: "orchestrate=start at boot: the owner ran it when it went down",
            mode: Orchestrate::Start,
            me: "n1",
            nodes: &[("n1", "up"), ("n2", "up")],
            owner: Some(("n1", true)),
            first_look: true,
            want: "start here: first look after the daemon started",
            ..BASE
        },
    ];
    let mut failed = Vec::new();
    for c in &cases {
        let got = run(c).describe();
        if got != c.want {
            failed.push(format!("{}:\n  got  {got}\n  want {}", c.name, c.want));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn blocker_codes() {
    let v = run(&Case {
        nodes: &[("n1", "lost"), ("n2", "up failed"), ("n3", "lost")],
        ..BASE
    });
    let Verdict::Blocked { blockers } = v else {
        panic!("{v:?}")
    };
    let codes: Vec<&str> = blockers.iter().map(|b| b.code.as_str()).collect();
    assert_eq!(codes, ["start failed", "no candidate"]);
}

#[test]
fn when_a_node_stands_down() {
    let preempted = vec!["vg#1pr".to_string()];
    let cases: &[(&str, Case, bool, Option<&str>)] = &[
        (
            "our key preempted while running here",
            Case {
                me: "n1",
                nodes: &[("n1", "up run"), ("n2", "up run")],
                ..BASE
            },
            true,
            Some("split brain: another node preempted our reservation (vg#1pr)"),
        ),
        (
            "preempted but not running here",
            Case {
                me: "n1",
                nodes: &[("n1", "up"), ("n2", "up run")],
                ..BASE
            },
            true,
            None,
        ),
        (
            "preempted, already frozen here",
            Case {
                me: "n1",
                nodes: &[("n1", "up run frozen"), ("n2", "up run")],
                ..BASE
            },
            true,
            None,
        ),
        (
            "minority partition, unfenced_failover",
            Case {
                me: "n1",
                fenced: false,
                unfenced_failover: true,
                nodes: &[("n1", "up run"), ("n2", "lost"), ("n3", "lost")],
                ..BASE
            },
            false,
            Some(
                "minority partition (1 of 3 nodes up, n2, n3 lost) with unfenced_failover=true: \
                 the majority may start it",
            ),
        ),
        (
            "majority partition keeps it",
            Case {
                me: "n1",
                fenced: false,
                unfenced_failover: true,
                nodes: &[("n1", "up run"), ("n2", "up"), ("n3", "lost")],
                ..BASE
            },
            false,
            None,
        ),
        (
            "two nodes split: no side has a majority, nobody starts it elsewhere, it stays",
            Case {
                me: "n1",
                fenced: false,
                unfenced_failover: true,
                nodes: &[("n1", "up run"), ("n2", "lost")],
                ..BASE
            },
            false,
            None,
        ),
        (
            "minority without unfenced_failover: nobody takes it over, it stays",
            Case {
                me: "n1",
                fenced: false,
                nodes: &[("n1", "up run"), ("n2", "lost")],
                ..BASE
            },
            false,
            None,
        ),
    ];
    for (name, c, pre, want) in cases {
        let p: &[String] = if *pre { &preempted } else { &[] };
        let got = with_input(c, |i| stand_down(i, p));
        assert_eq!(got.as_deref(), *want, "{name}");
    }
}
