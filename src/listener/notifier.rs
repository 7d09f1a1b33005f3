//! The wake-up line: one dedicated connection that LISTENs on `piw_jobs`.
//!
//! Not a pooled connection: tokio-postgres only hands notifications to whoever drives the
//! connection through `poll_message`, and a pool would run `UNLISTEN *` when recycling it.
//! Notifications sent while we are disconnected are lost, so every (re)connect also wakes the
//! worker loop, which then reads the queue.

use std::{sync::Arc, time::Duration};

use futures_util::{
    future::{BoxFuture, Fuse, FusedFuture},
    FutureExt, StreamExt,
};
use tokio::sync::Notify;
use tokio_postgres::AsyncMessage;
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use crate::{connect::Connector, queue::CHANNEL};

/// How often the idle connection is pinged: a dead peer is noticed within this (plus the timeout).
const PING_INTERVAL: Duration = Duration::from_secs(15);
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// Keep a LISTEN connection up until `cancel`, calling `wake.notify_one()` on every notification
/// and after every (re)connect. Reconnects with capped exponential backoff and jitter.
pub async fn run(connector: Connector, wake: Arc<Notify>, cancel: CancellationToken) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
    while !cancel.is_cancelled() {
        match listen_once(&connector, &wake, &cancel, &mut backoff).await {
            Ok(()) => return,
            Err(reason) => {
                let delay = backoff.next_delay();
                tracing::warn!("listen connection lost ({reason}); reconnecting in {} ms", delay.as_millis());
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = cancel.cancelled() => return,
                }
            }
        }
    }
}

/// One connection's life. `Ok` only when cancelled; `Err` says why the connection ended.
async fn listen_once(connector: &Connector, wake: &Notify, cancel: &CancellationToken, backoff: &mut Backoff) -> Result<(), String> {
    let mut connector = connector.clone();
    let name = format!("{} (LISTEN)", connector.config().get_application_name().unwrap_or(super::APPLICATION_NAME));
    connector.config_mut().application_name(&name);
    let (client, mut connection) = connector.connect_raw().await.map_err(|e| e.to_string())?;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let listen_sql = format!("LISTEN {CHANNEL}");
    let client = &client;
    // The query in flight (LISTEN, then pings); it completes only while `messages` is polled.
    let mut pending_query: Fuse<BoxFuture<'_, Result<(), String>>> =
        async move { client.batch_execute(&listen_sql).await.map_err(|e| crate::Error::from(e).to_string()) }.boxed().fuse();
    let mut listening = false;
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            message = messages.next() => match message {
                Some(Ok(AsyncMessage::Notification(_))) => wake.notify_one(),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(crate::Error::from(e).to_string()),
                None => return Err("connection closed".into()),
            },
            result = &mut pending_query, if !pending_query.is_terminated() => {
                result?;
                if !listening {
                    listening = true;
                    backoff.reset();
                    tracing::debug!("listening on {CHANNEL}");
                    // Anything queued while we were away was announced to nobody.
                    wake.notify_one();
                }
            }
            _ = ping.tick(), if listening && pending_query.is_terminated() => {
                pending_query = async move {
                    match tokio::time::timeout(PING_TIMEOUT, client.batch_execute("")).await {
                        Ok(result) => result.map_err(|e| crate::Error::from(e).to_string()),
                        Err(_) => Err(format!("no answer to a ping within {} s", PING_TIMEOUT.as_secs())),
                    }
                }
                .boxed()
                .fuse();
            }
        }
    }
}
