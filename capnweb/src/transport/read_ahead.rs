//! Read-ahead under a WebSocket: few system calls for large messages, no buffer for idle
//! connections.
//!
//! tungstenite reads at most its read-buffer size per call, and that buffer is small (every
//! idle session holds one). A message of 87 KiB (a 64 KiB chunk of a stream, as base64) then
//! takes over forty reads. [`ReadAhead`] notices a read that filled all it was offered, and
//! from then on reads up to [`READ_AHEAD_BYTES`] at once, handing the data out in the pieces
//! asked for. The buffer exists only while it holds data: drained, or while the socket has
//! nothing to read, it is freed, so an idle connection costs nothing more.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most read from the socket at once, ahead of what was asked.
pub(crate) const READ_AHEAD_BYTES: usize = 64 * 1024;

/// See the module docs. Writes go straight through.
#[derive(Debug)]
pub(crate) struct ReadAhead<S> {
    inner: S,
    /// Read from the socket, not handed out yet; no capacity when empty.
    ahead: BytesMut,
    /// Whether the last read suggests more is waiting (it filled all it was offered).
    eager: bool,
}

impl<S> ReadAhead<S> {
    pub(crate) fn new(inner: S) -> Self {
        ReadAhead {
            inner,
            ahead: BytesMut::new(),
            eager: false,
        }
    }

    /// The bytes held ahead (0 for an idle connection).
    #[cfg(test)]
    fn held(&self) -> usize {
        self.ahead.capacity()
    }

    /// Hands out what is ahead; frees the buffer once it is drained.
    fn hand_out(&mut self, out: &mut ReadBuf<'_>) {
        let n = out.remaining().min(self.ahead.len());
        out.put_slice(&self.ahead[..n]);
        self.ahead.advance(n);
        if self.ahead.is_empty() {
            self.ahead = BytesMut::new();
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadAhead<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.ahead.is_empty() {
            this.hand_out(out);
            return Poll::Ready(Ok(()));
        }
        let wanted = out.remaining();
        if !this.eager || wanted >= READ_AHEAD_BYTES {
            let before = out.filled().len();
            ready!(Pin::new(&mut this.inner).poll_read(cx, out))?;
            this.eager = wanted > 0 && out.filled().len() - before == wanted;
            return Poll::Ready(Ok(()));
        }
        this.ahead.reserve(READ_AHEAD_BYTES);
        let read = tokio_util::io::poll_read_buf(Pin::new(&mut this.inner), cx, &mut this.ahead);
        match read {
            Poll::Ready(Ok(n)) if n > 0 => {
                // No more than a plain read would have taken: caught up with the peer.
                this.eager = n > wanted;
                this.hand_out(out);
                Poll::Ready(Ok(()))
            }
            other => {
                // Nothing to read yet, the end, or an error: hold no buffer meanwhile.
                this.ahead = BytesMut::new();
                if matches!(other, Poll::Ready(_)) {
                    this.eager = false;
                }
                other.map_ok(|_| ())
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadAhead<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, data)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use super::*;

    /// A socket that holds `data`, gives all that is asked of it per read, and counts its
    /// reads; after `data`, it has nothing yet (pending).
    struct Socket {
        data: Vec<u8>,
        at: usize,
        reads: usize,
    }

    impl AsyncRead for Socket {
        fn poll_read(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            out: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            if this.at == this.data.len() {
                return Poll::Pending;
            }
            this.reads += 1;
            let n = out.remaining().min(this.data.len() - this.at);
            out.put_slice(&this.data[this.at..this.at + n]);
            this.at += n;
            Poll::Ready(Ok(()))
        }
    }

    /// Reads in pieces of `piece` bytes until the socket has nothing; what was read.
    async fn read_all(reader: &mut ReadAhead<Socket>, piece: usize) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = vec![0; piece];
        loop {
            let mut out = ReadBuf::new(&mut buf);
            let poll = poll_fn(|cx| Poll::Ready(Pin::new(&mut *reader).poll_read(cx, &mut out)));
            match poll.await {
                Poll::Ready(Ok(())) => got.extend_from_slice(out.filled()),
                Poll::Ready(Err(e)) => panic!("{e}"),
                Poll::Pending => return got,
            }
        }
    }

    fn socket(len: usize) -> Socket {
        Socket {
            data: (0..len).map(|i| (i % 251) as u8).collect(),
            at: 0,
            reads: 0,
        }
    }

    #[tokio::test]
    async fn a_large_message_is_read_in_few_system_calls_and_arrives_whole() {
        let mut reader = ReadAhead::new(socket(200 * 1024));
        let got = read_all(&mut reader, 2048).await;
        assert_eq!(got, reader.inner.data);
        // Without read-ahead: 100 reads of 2 KiB. With it: one small read, then 64 KiB each.
        assert!(reader.inner.reads <= 5, "{} reads", reader.inner.reads);
        // Drained, and the socket has nothing: no buffer is held.
        assert_eq!(reader.held(), 0);
    }

    #[tokio::test]
    async fn small_messages_are_read_directly_and_hold_no_buffer() {
        let mut reader = ReadAhead::new(socket(300));
        assert_eq!(read_all(&mut reader, 2048).await.len(), 300);
        assert_eq!(reader.inner.reads, 1);
        assert!(!reader.eager);
        assert_eq!(reader.held(), 0);
    }

    #[tokio::test]
    async fn what_is_read_ahead_is_handed_out_in_the_pieces_asked_for() {
        let mut reader = ReadAhead::new(socket(10_000));
        let got = read_all(&mut reader, 7).await;
        assert_eq!(got, reader.inner.data);
        assert!(reader.inner.reads <= 2, "{} reads", reader.inner.reads);
        assert_eq!(reader.held(), 0);
    }
}
