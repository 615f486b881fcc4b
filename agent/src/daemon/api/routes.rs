//! The API's paths and parameters as plain data: a method and a path in, a [`Route`] out.
//!
//! ```text
//! GET  /daemon/status                  pid, uptime, version, subsystems
//! POST /daemon/stop                    stop the daemon (services stay as they are)
//! GET  /node                           this node: name, load, memory
//! GET  /services                       every service: avail, overall, frozen, monitor
//! GET  /services/SVC/status            the same JSON as `print status --format json`
//! GET  /services/SVC/monitor           the monitor's state of the service
//! GET  /services/SVC/orchestration     the orchestrator's decision on it, with its blockers
//! GET  /orchestration                  every service's orchestration decision
//! POST /services/SVC/actions/ACTION    run an action (?wait=1: until done, with its exit code)
//! POST /services/SVC/refresh           evaluate the services now (the CLI after an action)
//! POST /services/SVC/target?to=N       switch the service to N through the orchestrators
//! POST /services/SVC/freeze            freeze it on every node (/thaw: thaw it)
//! GET  /cluster                        membership: nodes, heartbeat paths, counters
//! GET  /events                         newline-delimited JSON events
//! ```

use hyper::Method;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    DaemonStatus,
    DaemonStop,
    Node,
    Services,
    ServiceStatus(String),
    ServiceMonitor(String),
    ServiceOrchestration(String),
    Orchestration,
    Refresh(String),
    Target(String),
    ClusterFreeze { svc: String, freeze: bool },
    Action { svc: String, action: String },
    Cluster,
    Events,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    NotFound,
    MethodNotAllowed,
    BadRequest(String),
}

/// Actions the API runs, as `svcmgr -s SVC <action>` words.
pub const ACTIONS: &[&str] = &[
    "start",
    "stop",
    "restart",
    "freeze",
    "thaw",
    "switch",
    "takeover",
    "giveback",
    "syncnodes",
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
    "prstart",
    "prstop",
];

/// Service names as the CLI accepts them (they become file names).
pub fn valid_service_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

pub fn route(method: &Method, path: &str) -> Result<Route, RouteError> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let get = |r: Route| {
        if method == Method::GET {
            Ok(r)
        } else {
            Err(RouteError::MethodNotAllowed)
        }
    };
    let post = |r: Route| {
        if method == Method::POST {
            Ok(r)
        } else {
            Err(RouteError::MethodNotAllowed)
        }
    };
    let svc = |s: &str| {
        if valid_service_name(s) {
            Ok(s.to_string())
        } else {
            Err(RouteError::BadRequest(format!("bad service name '{s}'")))
        }
    };
    match segs.as_slice() {
        ["daemon", "status"] => get(Route::DaemonStatus),
        ["daemon", "stop"] => post(Route::DaemonStop),
        ["node"] => get(Route::Node),
        ["services"] => get(Route::Services),
        ["services", s, "status"] => get(Route::ServiceStatus(svc(s)?)),
        ["services", s, "monitor"] => get(Route::ServiceMonitor(svc(s)?)),
        ["services", s, "orchestration"] => get(Route::ServiceOrchestration(svc(s)?)),
        ["orchestration"] => get(Route::Orchestration),
        ["services", s, "refresh"] => post(Route::Refresh(svc(s)?)),
        ["services", s, "target"] => post(Route::Target(svc(s)?)),
        ["services", s, w @ ("freeze" | "thaw")] => post(Route::ClusterFreeze {
            svc: svc(s)?,
            freeze: *w == "freeze",
        }),
        ["services", s, "actions", a] => {
            let svc = svc(s)?;
            if !ACTIONS.contains(a) {
                return Err(RouteError::BadRequest(format!(
                    "unknown action '{a}': one of {}",
                    ACTIONS.join(", ")
                )));
            }
            post(Route::Action {
                svc,
                action: a.to_string(),
            })
        }
        ["cluster"] => get(Route::Cluster),
        ["events"] => get(Route::Events),
        _ => Err(RouteError::NotFound),
    }
}

/// The query parameters the API knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub wait: bool,
    /// `--rid`, comma-separated.
    pub rid: Option<String>,
    /// `switch --to`.
    pub to: Option<String>,
    pub force: bool,
    /// Status: the monitor's last evaluation instead of a new one.
    pub cached: bool,
}

fn flag(k: &str, v: &str) -> Result<bool, String> {
    match v {
        "" | "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err(format!("bad value '{v}' of {k}: 1 or 0")),
    }
}

pub fn parse_query(q: Option<&str>) -> Result<Query, String> {
    let mut out = Query::default();
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v).ok_or_else(|| format!("bad percent-encoding in {k}"))?;
        match k {
            "wait" => out.wait = flag(k, &v)?,
            "force" => out.force = flag(k, &v)?,
            "cached" => out.cached = flag(k, &v)?,
            "rid" => out.rid = Some(v),
            "to" => out.to = Some(v),
            _ => return Err(format!("unknown parameter '{k}'")),
        }
    }
    Ok(out)
}

/// `%23` -> `#`, `+` -> space; None for a bad escape or bytes that are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = b.get(i + 1..i + 3)?;
                let h = std::str::from_utf8(h).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// `start` with the query's options, as svcmgr arguments after `-s SVC`.
pub fn action_args(action: &str, q: &Query) -> Result<Vec<String>, String> {
    let mut v = vec![action.to_string()];
    if let Some(r) = &q.rid {
        if r.is_empty() || r.chars().any(|c| c.is_whitespace() || c == '\0') {
            return Err(format!("bad rid '{r}'"));
        }
        v.push("--rid".into());
        v.push(r.clone());
    }
    if let Some(to) = &q.to {
        if action != "switch" {
            return Err("to is a parameter of switch only".into());
        }
        if !valid_service_name(to) {
            return Err(format!("bad node name '{to}'"));
        }
        v.push("--to".into());
        v.push(to.clone());
    } else if action == "switch" {
        return Err("switch needs the destination: ?to=NODE".into());
    }
    if q.force {
        v.push("--force".into());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        use Route::*;
        let g = Method::GET;
        let p = Method::POST;
        let table: Vec<(&Method, &str, Result<Route, RouteError>)> = vec![
            (&g, "/daemon/status", Ok(DaemonStatus)),
            (&g, "/daemon/status/", Ok(DaemonStatus)),
            (&p, "/daemon/stop", Ok(DaemonStop)),
            (&g, "/daemon/stop", Err(RouteError::MethodNotAllowed)),
            (&g, "/node", Ok(Node)),
            (&g, "/services", Ok(Services)),
            (&g, "/services/web/status", Ok(ServiceStatus("web".into()))),
            (
                &g,
                "/services/web/monitor",
                Ok(ServiceMonitor("web".into())),
            ),
            (
                &p,
                "/services/web/actions/start",
                Ok(Action {
                    svc: "web".into(),
                    action: "start".into(),
                }),
            ),
            (
                &g,
                "/services/web/actions/start",
                Err(RouteError::MethodNotAllowed),
            ),
            (&g, "/events", Ok(Events)),
            (&g, "/cluster", Ok(Cluster)),
            (&g, "/orchestration", Ok(Orchestration)),
            (&p, "/services/web/refresh", Ok(Refresh("web".into()))),
            (&p, "/services/web/target", Ok(Target("web".into()))),
            (
                &p,
                "/services/web/thaw",
                Ok(ClusterFreeze {
                    svc: "web".into(),
                    freeze: false,
                }),
            ),
            (
                &g,
                "/services/web/refresh",
                Err(RouteError::MethodNotAllowed),
            ),
            (
                &g,
                "/services/web/orchestration",
                Ok(ServiceOrchestration("web".into())),
            ),
            (&p, "/cluster", Err(RouteError::MethodNotAllowed)),
            (&g, "/", Err(RouteError::NotFound)),
            (&g, "/nope", Err(RouteError::NotFound)),
            (&g, "/services/web", Err(RouteError::NotFound)),
            (&g, "/services/web/status/x", Err(RouteError::NotFound)),
        ];
        for (m, path, want) in table {
            assert_eq!(route(m, path), want, "{m} {path}");
        }
        assert!(matches!(
            route(&g, "/services/..x/status"),
            Err(RouteError::BadRequest(_))
        ));
        assert!(matches!(
            route(&p, "/services/web/actions/rm"),
            Err(RouteError::BadRequest(m)) if m.starts_with("unknown action 'rm'")
        ));
    }

    #[test]
    fn queries() {
        assert_eq!(parse_query(None), Ok(Query::default()));
        let q = parse_query(Some("wait=1&rid=container%231,ip&force")).unwrap();
        assert!(q.wait && q.force);
        assert_eq!(q.rid.as_deref(), Some("container#1,ip"));
        assert!(parse_query(Some("wait=maybe")).is_err());
        assert!(parse_query(Some("rid=%zz")).is_err());
        assert!(parse_query(Some("rid=%ff")).is_err());
        assert!(parse_query(Some("bogus=1")).is_err());
        assert_eq!(percent_decode("a+b%2Fc").as_deref(), Some("a b/c"));
        assert_eq!(percent_decode("%4"), None);
    }

    proptest::proptest! {
        /// Whatever a client sends as path and query: an answer, never a panic.
        #[test]
        fn any_path_and_query_is_answered(path in "\\PC{0,80}", q in "\\PC{0,80}") {
            let _ = route(&Method::GET, &path);
            let _ = route(&Method::POST, &path);
            if let Ok(q) = parse_query(Some(&q)) {
                let _ = action_args("start", &q);
                let _ = action_args("switch", &q);
            }
        }

        #[test]
        fn percent_decoding_never_panics(s in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let s = String::from_utf8_lossy(&s);
            let _ = percent_decode(&s);
        }
    }

    #[test]
    fn action_arguments() {
        let q = |s| parse_query(Some(s)).unwrap();
        assert_eq!(
            action_args("start", &q("rid=container%231")).unwrap(),
            ["start", "--rid", "container#1"]
        );
        assert_eq!(
            action_args("switch", &q("to=n2")).unwrap(),
            ["switch", "--to", "n2"]
        );
        assert!(action_args("switch", &q("")).is_err());
        assert!(action_args("start", &q("to=n2")).is_err());
        assert!(action_args("start", &q("rid=a%20b")).is_err());
        assert_eq!(
            action_args("stop", &q("force=1")).unwrap(),
            ["stop", "--force"]
        );
    }
}
