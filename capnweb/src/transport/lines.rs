//! Messages joined by `\n` in one buffer: an HTTP batch body, or a binary WebSocket frame from
//! a peer that batches that way.

use bytes::Bytes;

/// The first characters of `text`, for an error message.
pub(crate) fn snippet(text: &str) -> String {
    const MAX_CHARS: usize = 200;
    let text = text.trim();
    match text.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// A buffer's messages, each a slice of it, one by one: split on `\n`; an empty buffer holds
/// none. (Lazily: a body of a million lines is not a million slices at once.)
pub(crate) struct Lines {
    body: Bytes,
    /// Where the next line starts; past the end once every line was handed out.
    next: usize,
    /// The number (from 1) of the line handed out last; 0 before the first.
    line: usize,
}

impl Lines {
    pub(crate) fn new(body: Bytes) -> Lines {
        let next = if body.is_empty() { 1 } else { 0 };
        Lines {
            body,
            next,
            line: 0,
        }
    }

    /// The next message: the next line that is not blank, without a `\r` before its `\n`.
    /// (Peers that end the last message with a newline, or write `\r\n`, are common; the
    /// reference reads such text too, as JSON takes `\r` for white space.)
    pub(crate) fn next_message(&mut self) -> Option<Bytes> {
        self.find_map(|mut line| {
            if line.last() == Some(&b'\r') {
                line.truncate(line.len() - 1);
            }
            (!line.is_empty()).then_some(line)
        })
    }

    /// The number (from 1) of the line the last message came from.
    #[cfg(feature = "http-batch")]
    pub(crate) fn line_number(&self) -> usize {
        self.line
    }
}

impl Iterator for Lines {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        let start = self.next;
        if start > self.body.len() {
            return None;
        }
        let end = self.body[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.body.len(), |i| start + i);
        self.next = end + 1;
        self.line += 1;
        Some(self.body.slice(start..end))
    }
}

/// Messages as one buffer: joined by `\n`.
pub(crate) fn join_lines(lines: &[Bytes]) -> Bytes {
    let size = lines.iter().map(Bytes::len).sum::<usize>() + lines.len().saturating_sub(1);
    let mut body = Vec::with_capacity(size);
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            body.push(b'\n');
        }
        body.extend_from_slice(line);
    }
    Bytes::from(body)
}

#[cfg(test)]
mod tests {
    use super::snippet;

    #[test]
    fn snippets_are_cut_on_characters() {
        assert_eq!(snippet("  short \n"), "short");
        let long = "é".repeat(300);
        assert_eq!(snippet(&long).chars().count(), 201);
    }
}
