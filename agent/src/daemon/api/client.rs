//! The CLI's side of the API: one request over the unix socket, blocking (a small
//! single-threaded runtime per call).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;

use crate::paths::Root;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("can not reach the daemon at {path}")]
    Connect {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("api request {what} failed: {msg}")]
    Http { what: String, msg: String },
    #[error("api request {what}: no answer within {secs}s")]
    Timeout { what: String, secs: u64 },
    #[error("the daemon answered {what} with {status}: {msg}")]
    Status {
        what: String,
        status: u16,
        msg: String,
    },
}

/// A `(status, body)` answer.
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

impl Answer {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// A single-threaded runtime for one blocking call.
fn runtime(what: &str) -> Result<tokio::runtime::Runtime, ClientError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClientError::Http {
            what: what.into(),
            msg: e.to_string(),
        })
}

/// `method path` on the daemon of `root`, waiting at most `timeout` for the whole answer.
pub fn request(
    root: &Root,
    method: &str,
    path: &str,
    timeout: Duration,
) -> Result<Answer, ClientError> {
    let what = format!("{method} {path}");
    runtime(&what)?.block_on(async {
        match tokio::time::timeout(timeout, send(root, method, path)).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout {
                what: what.clone(),
                secs: timeout.as_secs(),
            }),
        }
    })
}

/// Like [`request`], an error unless the answer is a 2xx.
pub fn request_ok(
    root: &Root,
    method: &str,
    path: &str,
    timeout: Duration,
) -> Result<Answer, ClientError> {
    let a = request(root, method, path, timeout)?;
    if (200..300).contains(&a.status) {
        return Ok(a);
    }
    let msg = serde_json::from_slice::<serde_json::Value>(&a.body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&a.body).trim().to_string());
    Err(ClientError::Status {
        what: format!("{method} {path}"),
        status: a.status,
        msg,
    })
}

fn http_error(what: &str) -> impl Fn(hyper::Error) -> ClientError + '_ {
    move |e| ClientError::Http {
        what: what.to_string(),
        msg: e.to_string(),
    }
}

/// Connect to the daemon's socket and send `method path`; the answer's head has arrived.
async fn open(
    root: &Root,
    method: &str,
    path: &str,
    what: &str,
) -> Result<hyper::Response<hyper::body::Incoming>, ClientError> {
    let sock = super::socket_path(root);
    let stream = tokio::net::UnixStream::connect(&sock)
        .await
        .map_err(|source| ClientError::Connect {
            path: sock.display().to_string(),
            source,
        })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http_error(what))?;
    tokio::spawn(conn);
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "svcmgr")
        .body(Empty::<Bytes>::new())
        .map_err(|e| ClientError::Http {
            what: what.to_string(),
            msg: e.to_string(),
        })?;
    sender.send_request(req).await.map_err(http_error(what))
}

async fn send(root: &Root, method: &str, path: &str) -> Result<Answer, ClientError> {
    let what = format!("{method} {path}");
    let resp = open(root, method, path, &what).await?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(http_error(&what))?
        .to_bytes();
    Ok(Answer { status, body })
}

/// Read the event stream, calling `f` with each line until it returns false.
pub fn follow_events(root: &Root, mut f: impl FnMut(&str) -> bool) -> Result<(), ClientError> {
    let what = "GET /events";
    runtime(what)?.block_on(async {
        let mut body = open(root, "GET", "/events", what).await?.into_body();
        let mut pending: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(http_error(what))?;
            let Some(data) = frame.data_ref() else {
                continue;
            };
            pending.extend_from_slice(data);
            while let Some(i) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=i).collect();
                if !f(String::from_utf8_lossy(&line).trim_end()) {
                    return Ok(());
                }
            }
        }
        Ok(())
    })
}

/// A daemon runs on this root with its heartbeats on: the other nodes' daemons can be told.
pub fn heartbeats_running(root: &Root) -> bool {
    crate::daemon::pidlock::holder(root).is_some()
        && request_ok(root, "GET", "/cluster", Duration::from_secs(10))
            .ok()
            .and_then(|a| a.json::<crate::daemon::hb::view::ClusterView>().ok())
            .is_some_and(|c| c.disabled.is_none())
}
