//! One entry per action: its spellings (what completion offers), what it does and examples
//! (what the man page shows). The parser itself stays in `cli/mod.rs`.

pub struct ActionDoc {
    /// The man page's section title.
    pub title: &'static str,
    /// Every word sequence that runs it, as typed (`print status`).
    pub spellings: &'static [&'static str],
    pub about: &'static str,
    /// Command lines, each shown as typed.
    pub examples: &'static [&'static str],
}

pub const ACTIONS: &[ActionDoc] = &[
    ActionDoc {
        title: "print status",
        spellings: &["print status"],
        about: "The status tree of the service: overall, avail and each resource in start \
                order with its flags (M monitor, D disabled, O optional, E encap), then sync \
                and hb. Without -s: one line per service. With a daemon running, the status \
                comes from its API (the output says which).",
        examples: &[
            "svcmgr -s web print status",
            "svcmgr -s web print status --format json",
            "svcmgr print status",
        ],
    },
    ActionDoc {
        title: "status",
        spellings: &["status"],
        about: "Print nothing; the exit code is the overall status: 0 up, 1 down, 2 warn, \
                3 n/a, 5 undef, 6 stdby up, 7 stdby down.",
        examples: &["svcmgr -s web status; echo $?"],
    },
    ActionDoc {
        title: "print config, validate config",
        spellings: &["print config", "validate config"],
        about: "Print the service config as read; check it against the keyword table. Every \
                error names the file, the line, the section and the keyword; unknown keywords \
                are warnings. A config with sections of kinds svcmgr does not implement is \
                refused, all of them listed; validate config --partial reports what would load \
                without them and exits 0 when the rest is valid.",
        examples: &[
            "svcmgr -s web validate config",
            "svcmgr -s web validate config --partial",
            "svcmgr -s web print config",
        ],
    },
    ActionDoc {
        title: "print schedule",
        spellings: &["print schedule"],
        about: "The daemon's tasks of the service (sync_schedule, status_schedule): schedule, \
                last run, next run and last result.",
        examples: &["svcmgr -s web print schedule"],
    },
    ActionDoc {
        title: "print decision",
        spellings: &["print decision"],
        about: "The daemon's orchestration decision on the service here, in full: start \
                here (and how the lost owner is fenced), idle and why, or each blocker with \
                its code; the last owner; a failed start to clear.",
        examples: &[
            "svcmgr -s web print decision",
            "svcmgr -s web print decision --format json",
        ],
    },
    ActionDoc {
        title: "start, stop, restart",
        spellings: &["start", "stop", "restart"],
        about: "Start every resource in order (ip, vg and its reservation, fs, container), or \
                stop them in reverse. A failed start stops what it started unless \
                --disable-rollback. Starting an up resource or stopping a down one succeeds \
                and says so. A start refuses when another node runs the service \
                (--ignore-peers passes that check).",
        examples: &[
            "svcmgr -s web start",
            "svcmgr -s web stop --rid container#1",
            "svcmgr -s web start --dry-run",
        ],
    },
    ActionDoc {
        title: "startip, stopip, startvg, stopvg, startfs, stopfs, startcontainer, \
                stopcontainer",
        spellings: &[
            "startip",
            "stopip",
            "startvg",
            "stopvg",
            "startdisk",
            "stopdisk",
            "startfs",
            "stopfs",
            "startcontainer",
            "stopcontainer",
        ],
        about: "Start or stop one group of resources; startdisk and stopdisk are the same as \
                startvg and stopvg.",
        examples: &["svcmgr -s web startip", "svcmgr -s web stopfs --rid fs#2"],
    },
    ActionDoc {
        title: "freeze, thaw",
        spellings: &["freeze", "thaw"],
        about: "Stop, then allow again, the daemon's handling of the service: a frozen \
                service is never restarted, started or moved by the daemons. Without --local, \
                every node's daemon applies it too.",
        examples: &[
            "svcmgr -s web freeze",
            "svcmgr -s web thaw",
            "svcmgr -s web freeze --local",
        ],
    },
    ActionDoc {
        title: "clear",
        spellings: &["clear"],
        about: "Forget a start the daemon's orchestrator ran here and that failed: until \
                then this node is no failover candidate for the service.",
        examples: &["svcmgr -s web clear"],
    },
    ActionDoc {
        title: "install",
        spellings: &["install"],
        about: "Create the symlink ROOT/etc/SVC to svcmgr: running it is svcmgr -s SVC.",
        examples: &["svcmgr -s web install", "/etc/svcmgr/web print status"],
    },
    ActionDoc {
        title: "syncnodes, postsync",
        spellings: &["syncnodes", "postsync"],
        about: "Push the service config to the other nodes and drpnodes over SSH, atomically \
                on each receiver, only within sync_period and only from the node where the \
                service is up (--sync-anyway passes both). postsync is what a push runs on \
                the receiver, the config on its standard input.",
        examples: &[
            "svcmgr -s web syncnodes",
            "svcmgr -s web syncnodes --sync-anyway",
        ],
    },
    ActionDoc {
        title: "switch, takeover, giveback",
        spellings: &["switch", "takeover", "giveback"],
        about: "Move the service: switch stops it here and starts it on NODE (and restarts it \
                here when that fails); takeover moves it to this node; giveback moves it back \
                to the first of its nodes.",
        examples: &[
            "svcmgr -s web switch --to n2",
            "svcmgr -s web takeover",
            "svcmgr -s web giveback",
        ],
    },
    ActionDoc {
        title: "prstart, prstop, prstatus",
        spellings: &["prstart", "prstop", "prstatus"],
        about: "The SCSI-3 persistent reservations of the volume groups (vg#Npr) alone; \
                prstatus exits with their status code. --preempt takes reservations held by \
                other keys.",
        examples: &["svcmgr -s web prstatus", "svcmgr -s web prstart --preempt"],
    },
    ActionDoc {
        title: "boot",
        spellings: &["boot"],
        about: "At host boot: deactivate the volume groups LVM autoactivated and release \
                reservations. Without -s: every service; a service with resources up here is \
                skipped.",
        examples: &["svcmgr boot", "svcmgr -s web boot"],
    },
    ActionDoc {
        title: "docker, podman",
        spellings: &["docker", "podman"],
        about: "The container engine's own command line on the service's container store \
                (container_data_dir, its private dockerd): every argument after the word goes \
                to the engine.",
        examples: &["svcmgr -s web docker ps -a", "svcmgr -s web podman images"],
    },
    ActionDoc {
        title: "ls",
        spellings: &["ls"],
        about: "List the services configured on this node.",
        examples: &["svcmgr ls"],
    },
    ActionDoc {
        title: "daemon",
        spellings: &[
            "daemon run",
            "daemon start",
            "daemon stop",
            "daemon restart",
            "daemon status",
            "daemon running",
        ],
        about: "The per-host daemon: monitor, scheduler and local API. run stays in the \
                foreground (what the systemd unit runs); start detaches and refuses when one \
                is running; stop leaves the services as they are; status shows pid, uptime, \
                version, subsystems and loop lag; running exits 0 when one runs, else 1.",
        examples: &[
            "systemctl status svcmgr",
            "svcmgr daemon status",
            "svcmgr daemon running && echo up",
        ],
    },
    ActionDoc {
        title: "mon",
        spellings: &["mon"],
        about: "One screen: the daemon, this node, one line per service (avail, overall, \
                frozen, monitor state, last action). --watch redraws on every event. Without a \
                daemon it says so and shows the local status.",
        examples: &["svcmgr mon", "svcmgr mon --watch"],
    },
    ActionDoc {
        title: "completion",
        spellings: &["completion bash", "completion zsh", "completion fish"],
        about: "Print the shell's completion script. It completes actions, options, service \
                names (from ROOT/etc) after -s and the rids of that service after --rid, by \
                asking svcmgr itself at each TAB.",
        examples: &[
            "svcmgr completion bash > /etc/bash_completion.d/svcmgr",
            "svcmgr completion zsh > \"${fpath[1]}/_svcmgr\"",
            "svcmgr completion fish > ~/.config/fish/completions/svcmgr.fish",
        ],
    },
];

/// The words that may come after `typed` (the action words already on the line).
pub fn next_words(typed: &[&str]) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = ACTIONS
        .iter()
        .flat_map(|a| a.spellings.iter())
        .filter_map(|s| {
            let words: Vec<&'static str> = s.split(' ').collect();
            (words.len() > typed.len() && words[..typed.len()] == *typed)
                .then(|| words[typed.len()])
        })
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_words_follow_the_spellings() {
        let cases: &[(&[&str], &[&str])] = &[
            (&["print"], &["config", "decision", "schedule", "status"]),
            (&["validate"], &["config"]),
            (&["completion"], &["bash", "fish", "zsh"]),
            (&["start"], &[]),
            (&["nosuch"], &[]),
            (&["print", "status"], &[]),
        ];
        for (typed, want) in cases {
            assert_eq!(next_words(typed), *want, "{typed:?}");
        }
        let first = next_words(&[]);
        for w in ["print", "start", "startip", "daemon", "mon", "switch", "ls"] {
            assert!(first.contains(&w), "{w} in {first:?}");
        }
        assert!(!first.contains(&"status status"));
    }

    #[test]
    fn every_action_has_examples_with_svcmgr() {
        for a in ACTIONS {
            assert!(!a.examples.is_empty(), "{}", a.title);
            assert!(!a.spellings.is_empty(), "{}", a.title);
        }
    }
}
