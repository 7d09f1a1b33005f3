//! The listener's presence in the database: one session of its own whose transaction, open for
//! the listener's life, says that it is alive (see `piw.listener_present`), and inside which it
//! goes to sleep and wakes (see `piw._wake_listeners`).
//!
//! Not a pooled connection: a pool hands its sessions to whoever asks. The transaction writes
//! nothing and holds no snapshot between statements, so it holds back nothing. When the session
//! ends, whatever ended it, everything it held goes with it: the listener counts as gone (its jobs
//! go back to the queue) and as awake (enqueuers skip NOTIFY). So a lost session wakes the
//! listener, which opens another and looks at the queue before it sleeps again.

use std::sync::Arc;

use tokio::sync::{Mutex, Notify};
use tokio_postgres::Client;

use crate::{connect::Connector, error::Result, queue};

pub struct Presence {
    id: String,
    connector: Connector,
    /// Woken when the session ends: a listener asleep on it is asleep no more.
    wake: Arc<Notify>,
    /// The lock also orders the calls: a sleep and a wake never cross.
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    session: Option<Session>,
    asleep: bool,
}

struct Session {
    client: Client,
    pid: i32,
}

impl Presence {
    /// The presence of listener `id` in the database `connector` reaches; no session is opened
    /// yet. `wake` is notified when an open session ends.
    pub fn new(id: String, connector: &Connector, wake: Arc<Notify>) -> Self {
        let mut connector = connector.clone();
        let name = format!("{} (presence)", connector.config().get_application_name().unwrap_or(super::APPLICATION_NAME));
        connector.config_mut().application_name(&name);
        Presence { id, connector, wake, state: Mutex::new(State::default()) }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The process of the presence session, opening one if there is none: what heartbeats report,
    /// and whether we sleep.
    pub async fn pid_and_sleep(&self) -> Result<(i32, bool)> {
        let mut state = self.state.lock().await;
        let asleep = state.asleep;
        let pid = self.session(&mut state).await?.pid;
        Ok((pid, asleep))
    }

    /// Go to sleep: true once asleep (enqueuers now NOTIFY; read the queue once more before
    /// waiting); false while a transaction that counted on us being awake is open.
    pub async fn try_sleep(&self) -> Result<bool> {
        let mut state = self.state.lock().await;
        if state.asleep {
            return Ok(true);
        }
        let session = self.session(&mut state).await?;
        match queue::try_sleep(&session.client).await {
            Ok(asleep) => {
                state.asleep = asleep;
                Ok(asleep)
            }
            Err(e) => {
                state.session = None;
                Err(e)
            }
        }
    }

    /// Wake up (no-op when awake): enqueuers no longer NOTIFY, and count on us to look at the
    /// queue before we sleep again.
    pub async fn wake(&self) -> Result<()> {
        let mut state = self.state.lock().await;
        if !std::mem::take(&mut state.asleep) {
            return Ok(());
        }
        let Some(session) = state.session.as_ref().filter(|s| !s.client.is_closed()) else {
            // Gone, and everything it held with it.
            state.session = None;
            return Ok(());
        };
        if let Err(e) = queue::wake(&session.client).await {
            // Dropped: whatever it held goes with it.
            state.session = None;
            return Err(e);
        }
        Ok(())
    }

    /// End the presence session: the listener is gone.
    pub async fn leave(&self) {
        let mut state = self.state.lock().await;
        state.asleep = false;
        state.session = None;
    }

    /// The open session, or a new one.
    async fn session<'a>(&self, state: &'a mut State) -> Result<&'a Session> {
        let open = match state.session.take() {
            Some(session) if !session.client.is_closed() => session,
            _ => {
                // A session that ended took the sleep with it.
                state.asleep = false;
                self.connect().await?
            }
        };
        Ok(state.session.insert(open))
    }

    async fn connect(&self) -> Result<Session> {
        let (client, connection) = self.connector.connect_raw().await?;
        let wake = self.wake.clone();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!("presence connection closed: {error}");
            }
            wake.notify_one();
        });
        let pid = queue::presence(&client).await?;
        Ok(Session { client, pid })
    }
}
