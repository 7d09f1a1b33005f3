//! The listener's presence in the database: one session of its own for its heartbeats.
//!
//! An awake listener holds the awake lock, a session-level advisory lock, on the session of its
//! heartbeats (see `piw.listener_heartbeat`), and enqueuers skip NOTIFY while one does. So every
//! heartbeat, the calls that say awake or asleep, and the goodbye run on that one session: asleep
//! lets go of what awake took. Not a pooled connection: a pool hands its sessions to whoever asks.
//! A session that fails is dropped, which lets go of the lock (enqueuers then notify, which is
//! always safe); the next call opens another.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio_postgres::{Client, Config, NoTls, Statement};

use crate::{
    error::{Error, Result},
    queue,
};

pub struct Presence {
    id: String,
    config: Config,
    lease: Duration,
    /// The lock also orders the calls: a periodic heartbeat never comes between two others.
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// What we last told the database.
    awake: bool,
    session: Option<Session>,
}

struct Session {
    client: Client,
    heartbeat: Statement,
}

impl Presence {
    /// The presence of listener `id` in the database of `config`; no session is opened yet.
    pub fn new(id: String, config: &Config, lease: Duration) -> Self {
        let mut config = config.clone();
        let name = format!("{} (heartbeat)", config.get_application_name().unwrap_or(super::APPLICATION_NAME));
        config.application_name(&name);
        Presence { id, config, lease, state: Mutex::new(State::default()) }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Say whether we are awake; returns whether we are. Asleep is refused (we stay awake) while
    /// a transaction that counted on us being awake is open: try again later. Once asleep, read
    /// the queue once more: the work of every enqueuer that counted on us is there.
    pub async fn set_awake(&self, awake: bool) -> Result<bool> {
        let mut state = self.state.lock().await;
        self.heartbeat(&mut state, awake).await
    }

    /// The periodic heartbeat: alive, as awake as we last said, and our leases extended.
    pub async fn beat(&self) -> Result<()> {
        let mut state = self.state.lock().await;
        let awake = state.awake;
        self.heartbeat(&mut state, awake).await.map(drop)
    }

    /// `piw.listener_leave`: hand back the jobs we hold and go, letting go of the awake lock.
    pub async fn leave(&self) -> Result<()> {
        let mut state = self.state.lock().await;
        state.awake = false;
        let session = self.session(&mut state).await?;
        let outcome = queue::leave(&session.client, &self.id).await;
        if outcome.is_err() {
            state.session = None;
        }
        outcome
    }

    async fn heartbeat(&self, state: &mut State, awake: bool) -> Result<bool> {
        let session = self.session(state).await?;
        match queue::heartbeat_with(&session.client, &session.heartbeat, &self.id, awake, self.lease).await {
            Ok(now_awake) => {
                state.awake = now_awake;
                Ok(now_awake)
            }
            Err(e) => {
                // The session goes, and the awake lock with it: asleep is what the database is
                // told next.
                state.session = None;
                state.awake = false;
                Err(e)
            }
        }
    }

    /// The open session, or a new one.
    async fn session<'a>(&self, state: &'a mut State) -> Result<&'a Session> {
        let open = match state.session.take() {
            Some(session) if !session.client.is_closed() => session,
            _ => self.connect().await?,
        };
        Ok(state.session.insert(open))
    }

    async fn connect(&self) -> Result<Session> {
        let (client, connection) = self.config.connect(NoTls).await.map_err(Error::Connection)?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!("heartbeat connection closed: {error}");
            }
        });
        let heartbeat = client.prepare(queue::HEARTBEAT_SQL).await?;
        Ok(Session { client, heartbeat })
    }
}
