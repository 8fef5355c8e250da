//! Group commit: one thread owns the [`Sequencer`]; any number of callers submit
//! entries through a [`GroupHandle`] and block until their entry is durable.
//!
//! The thread takes every submission that is waiting (up to `max_batch`), appends them
//! with one [`Sequencer::append_batch`] (one fsync or one transaction), and answers each
//! caller with its index. Every `checkpoint_interval` (when the log grew) it writes tiles
//! and a signed checkpoint, then answers callers waiting for a checkpoint covering their
//! entry. A caller is answered only after the durable write, so an acknowledged index is
//! never lost.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{LogBackend, Result, Sequencer, StoreError};

/// Group-commit settings.
#[derive(Debug, Clone, Copy)]
pub struct GroupOptions {
    /// Most entries per batch.
    pub max_batch: usize,
    /// How often to checkpoint while the log grows.
    pub checkpoint_interval: Duration,
    /// Submissions that may queue before submitters block.
    pub queue: usize,
}

impl Default for GroupOptions {
    fn default() -> Self {
        GroupOptions {
            max_batch: 4096,
            checkpoint_interval: Duration::from_millis(250),
            queue: 65536,
        }
    }
}

type Reply<T> = Sender<std::result::Result<T, String>>;

enum Msg {
    Append(Vec<u8>, Reply<u64>),
    WaitCheckpoint(u64, Reply<Vec<u8>>),
    Stop,
}

/// A cloneable submitter.
#[derive(Debug, Clone)]
pub struct GroupHandle {
    tx: SyncSender<Msg>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Append(e, _) => write!(f, "Append({} bytes)", e.len()),
            Msg::WaitCheckpoint(i, _) => write!(f, "WaitCheckpoint({i})"),
            Msg::Stop => f.write_str("Stop"),
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Invalid("group commit thread has stopped".into())
}

impl GroupHandle {
    /// Submit an entry; returns its index once it is durable.
    pub fn append(&self, entry: Vec<u8>) -> Result<u64> {
        // Checked here so one bad entry cannot fail the batch it would join.
        if entry.len() > aq_tlog::tile::MAX_ENTRY_SIZE {
            return Err(StoreError::Invalid(format!(
                "entry is {} bytes (limit 65535)",
                entry.len()
            )));
        }
        let (tx, rx) = mpsc::channel();
        self.tx
            .send(Msg::Append(entry, tx))
            .map_err(|_| stopped())?;
        rx.recv()
            .map_err(|_| stopped())?
            .map_err(StoreError::Invalid)
    }

    /// Block until a checkpoint covering entry `index` is stored; returns it.
    pub fn wait_checkpoint(&self, index: u64) -> Result<Vec<u8>> {
        let (tx, rx) = mpsc::channel();
        self.tx
            .send(Msg::WaitCheckpoint(index, tx))
            .map_err(|_| stopped())?;
        rx.recv()
            .map_err(|_| stopped())?
            .map_err(StoreError::Invalid)
    }
}

/// The group-commit thread.
#[derive(Debug)]
pub struct GroupCommit<B: LogBackend + 'static> {
    handle: GroupHandle,
    thread: Option<JoinHandle<Result<Sequencer<B>>>>,
}

impl<B: LogBackend + 'static> GroupCommit<B> {
    /// Start the thread; it owns `seq` until [`GroupCommit::shutdown`].
    pub fn spawn(seq: Sequencer<B>, opts: GroupOptions) -> Result<GroupCommit<B>> {
        let (tx, rx) = mpsc::sync_channel(opts.queue.max(1));
        let thread = std::thread::Builder::new()
            .name("aq-tlog-sequencer".into())
            .spawn(move || run(seq, rx, opts))
            .map_err(|e| StoreError::io("spawn sequencer thread", e))?;
        Ok(GroupCommit {
            handle: GroupHandle { tx },
            thread: Some(thread),
        })
    }

    /// A submitter.
    pub fn handle(&self) -> GroupHandle {
        self.handle.clone()
    }

    /// Stop after the queued work, write a final checkpoint and return the sequencer.
    pub fn shutdown(mut self) -> Result<Sequencer<B>> {
        let _ = self.handle.tx.send(Msg::Stop);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| StoreError::Invalid("sequencer thread panicked".into()))?,
            None => Err(stopped()),
        }
    }
}

fn run<B: LogBackend>(
    mut seq: Sequencer<B>,
    rx: Receiver<Msg>,
    opts: GroupOptions,
) -> Result<Sequencer<B>> {
    let mut waiters: Vec<(u64, Reply<Vec<u8>>)> = Vec::new();
    let mut last_cp = Instant::now();
    let mut stop = false;
    let mut batch: Vec<(Vec<u8>, Reply<u64>)> = Vec::with_capacity(opts.max_batch);
    while !stop {
        let due = opts.checkpoint_interval.saturating_sub(last_cp.elapsed());
        let first = match rx.recv_timeout(due.max(Duration::from_micros(100))) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Msg::Stop),
        };
        let mut next = first;
        while let Some(m) = next {
            match m {
                Msg::Append(e, r) => batch.push((e, r)),
                Msg::WaitCheckpoint(i, r) => waiters.push((i, r)),
                Msg::Stop => stop = true,
            }
            next = if batch.len() < opts.max_batch && !stop {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !batch.is_empty() {
            let refs: Vec<&[u8]> = batch.iter().map(|(e, _)| e.as_slice()).collect();
            match seq.append_batch(&refs) {
                Ok(range) => {
                    for ((_, r), i) in batch.drain(..).zip(range) {
                        let _ = r.send(Ok(i));
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    for (_, r) in batch.drain(..) {
                        let _ = r.send(Err(msg.clone()));
                    }
                    if seq_poisoned(&e) {
                        fail_waiters(&mut waiters, &msg);
                        return Err(e);
                    }
                }
            }
        }
        let grew = seq.size() > seq.checkpoint_size() || seq.latest_checkpoint().is_none();
        if stop || (grew && last_cp.elapsed() >= opts.checkpoint_interval) {
            match seq.checkpoint() {
                Ok(cp) => {
                    last_cp = Instant::now();
                    let covered = seq.checkpoint_size();
                    waiters.retain(|(i, r)| {
                        if *i < covered {
                            let _ = r.send(Ok(cp.clone()));
                            false
                        } else {
                            true
                        }
                    });
                }
                Err(e) => {
                    fail_waiters(&mut waiters, &e.to_string());
                    return Err(e);
                }
            }
        }
    }
    fail_waiters(
        &mut waiters,
        "sequencer stopped before the entry was appended",
    );
    Ok(seq)
}

fn seq_poisoned(e: &StoreError) -> bool {
    // A failed durable write poisons the sequencer; input errors do not.
    !matches!(e, StoreError::Invalid(_))
}

fn fail_waiters(waiters: &mut Vec<(u64, Reply<Vec<u8>>)>, msg: &str) {
    for (_, r) in waiters.drain(..) {
        let _ = r.send(Err(msg.to_owned()));
    }
}
