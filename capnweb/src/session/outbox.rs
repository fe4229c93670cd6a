//! [`Outbox`]: the messages a session has written and its driver has not yet handed to the
//! transport, as one text buffer.
//!
//! Messages are serialized where they arise (under the session lock, where the export table
//! is at hand) straight into this buffer; the driver takes the whole buffer at once and hands
//! each message to the transport as a slice of it, so nothing is copied on the way. Its size
//! is what the session measures against `SessionOptions::max_queued_bytes`.

use bytes::Bytes;

use crate::encode::{Encoder, Exporter};
use crate::error::{Error, RpcError};
use crate::value::Value;
use crate::wire::tag::Tag;
use crate::wire::{Capture, Expr, Limits, PathKey};

/// Room left after a large message encoded elsewhere joins a buffer that holds others.
const SLACK: usize = 4096;

/// See the module docs.
#[derive(Default)]
pub(super) struct Outbox {
    text: String,
    /// Where each message in `text` ends.
    ends: Vec<usize>,
    /// The driver will look at the outbox without being woken (it was woken already, or it is
    /// running); cleared when it parks.
    pub(super) notified: bool,
    /// A batching transport was asked to send what it has (HTTP batch).
    pub(super) flush_requested: bool,
}

/// Writes `["stream",["pipeline",id,path,args]]` into `text`: the outbox's own, or a buffer of
/// its own for a message encoded ahead of time.
pub(super) fn write_stream_call(
    text: &mut String,
    exporter: &mut dyn Exporter,
    limits: &Limits,
    id: i64,
    path: &[PathKey],
    args: &[Value],
) -> Result<(), Error> {
    let mut e = Encoder::new(text, exporter, limits);
    e.raw(Tag::Stream.open());
    e.pipeline(id, path, Some(args))?;
    e.raw("]");
    Ok(())
}

/// Messages taken from an [`Outbox`], handed out one by one.
pub(super) struct Batch {
    text: Bytes,
    ends: std::vec::IntoIter<usize>,
    start: usize,
}

impl Batch {
    /// The next message, as a slice of the batch.
    pub(super) fn next_message(&mut self) -> Option<Bytes> {
        let end = self.ends.next()?;
        let message = self.text.slice(self.start..end);
        self.start = end;
        Some(message)
    }

    /// Bytes not handed out yet.
    pub(super) fn remaining(&self) -> usize {
        self.text.len() - self.start
    }
}

impl Outbox {
    /// Bytes written and not taken by the driver.
    pub(super) fn queued_bytes(&self) -> usize {
        self.text.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Everything queued, leaving the outbox empty.
    pub(super) fn take(&mut self) -> Option<Batch> {
        if self.ends.is_empty() {
            return None;
        }
        // The next batch likely looks like this one: start it at this one's size, so it does
        // not grow by doubling from nothing (capped: one huge message is not the norm).
        let hint = self.text.len().min(64 * 1024);
        let count = self.ends.len().min(1024);
        let text = std::mem::replace(&mut self.text, String::with_capacity(hint));
        let ends = std::mem::replace(&mut self.ends, Vec::with_capacity(count));
        Some(Batch {
            text: Bytes::from(text),
            ends: ends.into_iter(),
            start: 0,
        })
    }

    /// Writes one message with `write`; if it fails, nothing of it stays queued.
    fn message(
        &mut self,
        write: impl FnOnce(&mut String) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mark = self.text.len();
        match write(&mut self.text) {
            Ok(()) => {
                self.ends.push(self.text.len());
                Ok(())
            }
            Err(e) => {
                self.text.truncate(mark);
                Err(e)
            }
        }
    }

    /// `["push",["pipeline",id,path,args]]`: a call (or, without `args`, a property read).
    pub(super) fn push_call(
        &mut self,
        exporter: &mut dyn Exporter,
        limits: &Limits,
        id: i64,
        path: &[PathKey],
        args: Option<&[Value]>,
    ) -> Result<(), Error> {
        self.message(|text| {
            let mut e = Encoder::new(text, exporter, limits);
            e.raw(Tag::Push.open());
            e.pipeline(id, path, args)?;
            e.raw("]");
            Ok(())
        })
    }

    /// `["push",["remap",id,path,captures,instructions]]`: a `.map()`.
    pub(super) fn push_remap(
        &mut self,
        exporter: &mut dyn Exporter,
        limits: &Limits,
        id: i64,
        path: &[PathKey],
        captures: &[Capture],
        instructions: &[Expr],
    ) -> Result<(), Error> {
        self.message(|text| {
            let mut e = Encoder::new(text, exporter, limits);
            e.raw(Tag::Push.open());
            e.raw(Tag::Remap.open());
            e.integer(id);
            e.raw(",");
            e.path(path);
            e.raw(",[");
            for (i, capture) in captures.iter().enumerate() {
                let (tag, id) = match capture {
                    Capture::Import(id) => (Tag::Import.open(), *id),
                    Capture::Export(id) => (Tag::Export.open(), *id),
                };
                e.raw(if i > 0 { "," } else { "" });
                e.raw(tag);
                e.integer(id);
                e.raw("]");
            }
            e.raw("],[");
            for (i, instruction) in instructions.iter().enumerate() {
                if i > 0 {
                    e.raw(",");
                }
                e.expr(instruction)?;
            }
            e.raw("]]]");
            Ok(())
        })
    }

    /// `["resolve",id,value]`.
    pub(super) fn resolve(
        &mut self,
        exporter: &mut dyn Exporter,
        limits: &Limits,
        id: i64,
        value: &Value,
    ) -> Result<(), Error> {
        self.message(|text| {
            let mut e = Encoder::new(text, exporter, limits);
            e.raw(Tag::Resolve.open());
            e.integer(id);
            e.raw(",");
            e.value(value, 0)?;
            e.raw("]");
            Ok(())
        })
    }

    /// `["reject",id,error]`, or `["abort",error]` without an id.
    pub(super) fn reject(
        &mut self,
        exporter: &mut dyn Exporter,
        limits: &Limits,
        id: Option<i64>,
        error: &RpcError,
    ) -> Result<(), Error> {
        self.message(|text| {
            let mut e = Encoder::new(text, exporter, limits);
            match id {
                Some(id) => {
                    e.raw(Tag::Reject.open());
                    e.integer(id);
                    e.raw(",");
                }
                None => e.raw(Tag::Abort.open()),
            }
            e.error(error, 0)?;
            e.raw("]");
            Ok(())
        })
    }

    /// `["stream",["pipeline",id,path,args]]`: a call on a writable stream.
    pub(super) fn stream_call(
        &mut self,
        exporter: &mut dyn Exporter,
        limits: &Limits,
        id: i64,
        path: &[PathKey],
        args: &[Value],
    ) -> Result<(), Error> {
        self.message(|text| write_stream_call(text, exporter, limits, id, path, args))
    }

    /// Queues a message encoded elsewhere (a `stream` message encoded ahead of time). An
    /// empty outbox takes its buffer as it is, so a large message is not copied.
    pub(super) fn push_encoded(&mut self, message: String) {
        if self.text.is_empty() {
            self.text = message;
        } else {
            if self.text.capacity() - self.text.len() < message.len() {
                // Growing would copy all the buffer could hold; a new one copies what it holds
                // (and leaves room for a few small messages after this one).
                let mut text = String::with_capacity(self.text.len() + message.len() + SLACK);
                text.push_str(&self.text);
                self.text = text;
            }
            self.text.push_str(&message);
        }
        self.ends.push(self.text.len());
    }

    /// The size in bytes of the last message written.
    pub(super) fn last_size(&self) -> usize {
        match self.ends.as_slice() {
            [.., before, last] => last - before,
            [last] => *last,
            [] => 0,
        }
    }

    /// Puts `count` `["pipe"]` messages before the last message written.
    pub(super) fn pipes_before_last(&mut self, count: usize) {
        const PIPE: &str = Tag::Pipe.alone();
        let Some(last) = self.ends.pop() else {
            return;
        };
        let start = self.ends.last().copied().unwrap_or(0);
        self.text.insert_str(start, &PIPE.repeat(count));
        for i in 1..=count {
            self.ends.push(start + i * PIPE.len());
        }
        self.ends.push(last + count * PIPE.len());
    }

    /// `["pull",id]`.
    pub(super) fn pull(&mut self, id: i64) {
        self.plain(&[Tag::Pull.open(), itoa::Buffer::new().format(id), "]"]);
    }

    /// `["release",id,count]`.
    pub(super) fn release(&mut self, id: i64, count: u64) {
        let mut id_text = itoa::Buffer::new();
        let mut count_text = itoa::Buffer::new();
        self.plain(&[
            Tag::Release.open(),
            id_text.format(id),
            ",",
            count_text.format(count),
            "]",
        ]);
    }

    fn plain(&mut self, parts: &[&str]) {
        parts.iter().for_each(|part| self.text.push_str(part));
        self.ends.push(self.text.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(outbox: &mut Outbox) -> Vec<String> {
        let mut batch = outbox.take().into_iter().next();
        let mut all = Vec::new();
        while let Some(message) = batch.as_mut().and_then(Batch::next_message) {
            all.push(String::from_utf8_lossy(&message).into_owned());
        }
        all
    }

    /// A message encoded elsewhere goes after what is queued, each still its own message,
    /// whether it joins an empty outbox (whose buffer it becomes) or one with room or not.
    #[test]
    fn messages_encoded_elsewhere_keep_their_place() {
        let mut outbox = Outbox::default();
        outbox.push_encoded("[\"first\"]".into());
        outbox.pull(1);
        outbox.push_encoded(format!("[\"{}\"]", "x".repeat(100_000)));
        outbox.release(2, 1);
        let all = messages(&mut outbox);
        assert_eq!(all.len(), 4);
        assert_eq!(all[0], "[\"first\"]");
        assert_eq!(all[1], "[\"pull\",1]");
        assert_eq!(all[2].len(), 100_004);
        assert_eq!(all[3], "[\"release\",2,1]");
        assert!(outbox.is_empty());
    }
}
