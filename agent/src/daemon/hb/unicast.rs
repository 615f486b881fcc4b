//! The UDP path: one socket bound to the path's port, one datagram per peer per interval
//! and whenever the beat changes; received datagrams checked and handed to the hb task.

use std::net::SocketAddr;

use tokio::net::UdpSocket;

use super::codec::{self, Drop, MAX_DATAGRAM};
use super::replay::{ReplayGuard, Verdict};
use super::rtt::RttTracker;
use super::{PathCtx, PathEvent};

pub async fn run(ctx: PathCtx) {
    let port = ctx.cfg.port();
    let sock = match UdpSocket::bind(("0.0.0.0", port)).await {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("can not bind udp port {port}: {e}");
            tracing::error!("hb#{}: {msg}", ctx.index + 1);
            ctx.emit(PathEvent::Error {
                path: ctx.index,
                error: Some(msg),
            });
            ctx.token.cancelled().await;
            return;
        }
    };
    let mut guard = ReplayGuard::default();
    let mut rtt = RttTracker::default();
    // One byte more than the limit: a longer datagram is seen as too big, not truncated.
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let mut beat = ctx.beat.clone();
    let mut tick = tokio::time::interval(ctx.cfg.interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ctx.token.cancelled() => return,
            _ = tick.tick() => send_all(&ctx, &sock, &mut rtt).await,
            r = beat.changed() => {
                if r.is_err() {
                    return;
                }
                send_all(&ctx, &sock, &mut rtt).await;
            }
            r = sock.recv_from(&mut buf) => match r {
                Ok((n, from)) => receive(&ctx, &mut guard, &mut rtt, &buf[..n], from),
                Err(e) => {
                    tracing::debug!("hb#{}: recv: {e}", ctx.index + 1);
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
        }
    }
}

fn receive(
    ctx: &PathCtx,
    guard: &mut ReplayGuard,
    rtt: &mut RttTracker,
    data: &[u8],
    from: SocketAddr,
) {
    let source = from.to_string();
    let drop = |reason: Drop, sender: Option<&str>| {
        let source = match sender {
            Some(s) => format!("{s} ({source})"),
            None => source.clone(),
        };
        ctx.emit(PathEvent::Dropped {
            path: ctx.index,
            reason,
            source,
        });
    };
    let h = match codec::header(&ctx.key, data) {
        Ok((h, _)) => h,
        Err(r) => return drop(r, None),
    };
    match guard.check(h.sender, h.boot_id, h.seq) {
        Ok(Verdict::New) => {}
        Ok(Verdict::Same) => return drop(Drop::Replay, Some(h.sender)),
        Err(r) => return drop(r, Some(h.sender)),
    }
    match codec::open(&ctx.key, &ctx.peer_set, data) {
        Ok(o) => {
            guard.accept(&o.sender, o.boot_id, o.seq);
            let now = tokio::time::Instant::now();
            let path = ctx.index as u8;
            let r = rtt.received(&o.sender, o.seq, &o.beat.acks, &ctx.nodename, path, now);
            ctx.emit(PathEvent::Rx {
                path: ctx.index,
                opened: Box::new(o),
                bytes: data.len(),
                rtt: r,
            });
        }
        Err(r) => drop(r, Some(h.sender)),
    }
}

async fn send_all(ctx: &PathCtx, sock: &UdpSocket, rtt: &mut RttTracker) {
    let now = tokio::time::Instant::now();
    let Some((seq, data)) = ctx.seal_with_acks(rtt.acks(ctx.index as u8, now)) else {
        return;
    };
    rtt.sent(seq, now);
    let port = ctx.cfg.port();
    for (peer, addr) in &ctx.peers {
        let ok = match resolve(addr, port).await {
            Some(to) => sock.send_to(&data, to).await.is_ok(),
            None => false,
        };
        ctx.emit(PathEvent::Sent {
            path: ctx.index,
            peer: peer.clone(),
            ok,
            bytes: data.len(),
        });
    }
}

async fn resolve(addr: &str, port: u16) -> Option<SocketAddr> {
    if let Ok(ip) = addr.parse::<std::net::IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    tokio::net::lookup_host((addr, port)).await.ok()?.next()
}
