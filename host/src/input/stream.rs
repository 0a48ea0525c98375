//! Events from a file or a pipe of any size, in bounded memory: read a buffer at a time, split what is complete,
//! keep the one chunk a read may have cut short for the next. The chunks are exactly those [`super::split`] finds
//! in the whole input (same text, positions and reasons), which the tests check with reads of every size.

use std::io::{ErrorKind, Read};
use std::sync::Arc;

use super::{Chunk, Splitter};

/// Bytes asked of the reader at a time.
pub const READ_BYTES: usize = 1 << 20;

/// The longest chunk kept whole. EventBridge events are at most 256 KiB; a chunk still open after this many bytes
/// (a file that is not events, an object that never closes) is cut there and reported broken piece by piece,
/// rather than held until the end of the input.
pub const MAX_CHUNK_BYTES: usize = 16 << 20;

pub struct Stream<R> {
    reader: R,
    file: Arc<str>,
    /// Zeroed once as it grows, then read into again and again: zeroing a megabyte before every read cost as much
    /// as splitting it.
    buffer: Vec<u8>,
    /// Bytes of `buffer` that hold input.
    filled: usize,
    /// Bytes of `buffer` already handed out.
    consumed: usize,
    /// The file offset of `buffer[0]`, and the line at `consumed`.
    offset: usize,
    line: usize,
    /// The reader said it has nothing more.
    eof: bool,
    /// The open chunk reached `max_chunk`: split what is buffered as if the input ended there.
    cut: bool,
    read_bytes: usize,
    max_chunk: usize,
}

impl<R: Read> Stream<R> {
    pub fn new(reader: R, file: Arc<str>) -> Stream<R> {
        Stream::with_sizes(reader, file, READ_BYTES, MAX_CHUNK_BYTES)
    }

    /// A stream reading `read_bytes` at a time and keeping chunks of up to `max_chunk` bytes whole.
    pub fn with_sizes(reader: R, file: Arc<str>, read_bytes: usize, max_chunk: usize) -> Stream<R> {
        Stream {
            reader,
            file,
            buffer: Vec::new(),
            filled: 0,
            consumed: 0,
            offset: 0,
            line: 1,
            eof: false,
            cut: false,
            read_bytes: read_bytes.max(1),
            max_chunk: max_chunk.max(1),
        }
    }

    /// The next chunks, at most `max` (at least one unless the input is over): the caller is done with them
    /// before it asks for more, so the buffer behind them is never more than a read and one chunk.
    pub fn next_chunks(&mut self, max: usize) -> std::io::Result<Vec<Chunk<'_>>> {
        while !self.eof && !self.has_complete_chunk() {
            self.fill()?;
        }
        Ok(self.take(max.max(1)))
    }

    /// A stream whose first byte is at `offset` of its input, on `line` (reading resumed part way through).
    pub fn starting_at(mut self, offset: usize, line: usize) -> Stream<R> {
        (self.offset, self.line) = (offset, line.max(1));
        self
    }

    /// Where the chunks handed out so far end: the offset and line the next one starts at.
    pub fn position(&self) -> (usize, usize) {
        (self.offset + self.consumed, self.line)
    }

    /// Bytes held now (for the tests' bound).
    pub fn buffered(&self) -> usize {
        self.buffer.capacity()
    }

    fn ends_here(&self) -> bool {
        self.eof || self.cut
    }

    fn splitter(&self) -> Splitter<'_> {
        let data = &self.buffer[self.consumed..self.filled];
        Splitter::resume(data, self.file.clone(), self.offset + self.consumed, self.line)
    }

    /// Whether the buffer holds a chunk no later read can change (whitespace alone is dropped).
    fn has_complete_chunk(&mut self) -> bool {
        let mut splitter = self.splitter();
        let first = splitter.next();
        let (at_end, (split, line)) = (splitter.at_end(), splitter.position());
        match first {
            None => {
                self.consumed += split;
                self.line = line;
                false
            }
            Some(Chunk::Broken { .. }) if at_end => self.ends_here(),
            Some(_) => true,
        }
    }

    fn take(&mut self, max: usize) -> Vec<Chunk<'_>> {
        let ends_here = self.ends_here();
        let Stream { buffer, filled, consumed, offset, line, file, cut, .. } = self;
        // A cut applies to what is buffered now; what is read next is split as it comes.
        *cut = false;
        let mut splitter = Splitter::resume(&buffer[*consumed..*filled], file.clone(), *offset + *consumed, *line);
        let mut chunks = Vec::new();
        let mut split = (0, *line);
        while chunks.len() < max {
            let Some(chunk) = splitter.next() else {
                split = splitter.position();
                break;
            };
            // Cut short by the end of what was read: split again once the rest is in.
            if !ends_here && splitter.at_end() && matches!(chunk, Chunk::Broken { .. }) {
                break;
            }
            chunks.push(chunk);
            split = splitter.position();
        }
        *consumed += split.0;
        *line = split.1;
        chunks
    }

    /// Drops what was handed out, then reads once more (or, at `max_chunk`, cuts the open chunk).
    fn fill(&mut self) -> std::io::Result<()> {
        if self.consumed > 0 {
            self.buffer.copy_within(self.consumed..self.filled, 0);
            self.filled -= self.consumed;
            self.offset += self.consumed;
            self.consumed = 0;
        }
        if self.filled >= self.max_chunk {
            self.cut = true;
            return Ok(());
        }
        let start = self.filled;
        let want = self.read_bytes.min(self.max_chunk - start);
        if self.buffer.len() < start + want {
            // Exactly: doubling would let one long chunk hold twice the bound.
            self.buffer.reserve_exact(start + want - self.buffer.len());
            self.buffer.resize(start + want, 0);
        }
        let read = loop {
            match self.reader.read(&mut self.buffer[start..start + want]) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        self.filled = start + *read.as_ref().unwrap_or(&0);
        if read? == 0 {
            self.eof = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::split;

    /// Hands out `data` a few bytes at a time, the sizes cycling through `sizes`.
    struct Trickle<'a> {
        data: &'a [u8],
        sizes: &'a [usize],
        next: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let size = self.sizes[self.next % self.sizes.len()].min(out.len()).min(self.data.len());
            self.next += 1;
            out[..size].copy_from_slice(&self.data[..size]);
            self.data = &self.data[size..];
            Ok(size)
        }
    }

    fn streamed(data: &[u8], sizes: &[usize], read_bytes: usize, max: usize) -> Vec<String> {
        let reader = Trickle { data, sizes, next: 0 };
        let mut stream = Stream::with_sizes(reader, "t".into(), read_bytes, 1 << 20);
        let mut all = Vec::new();
        loop {
            let chunks = stream.next_chunks(max).unwrap();
            if chunks.is_empty() {
                return all;
            }
            all.extend(chunks.iter().map(|c| format!("{c:?}")));
        }
    }

    fn whole(data: &[u8]) -> Vec<String> {
        split(data, "t".into()).map(|c| format!("{c:?}")).collect()
    }

    const INPUTS: &[&str] = &[
        "{\"a\":1}\n{\"b\":2}\n",
        "{\"a\":1}{\"b\":\"}{\"}{\"c\":[{},{}]}",
        "{\n  \"a\": {\n    \"b\": [1, {\"c\": \"\\\"}\"}]\n  }\n}\n\n{\"d\":1}",
        "{\"a\":1}\nnot json\n{\"b\":2}",
        "null\n\"a string\"\n{\"a\":1}\n[1,\n2] {\"b\":2}",
        "{\"a\": {\"x\": 1}\n{\"b\":2}\n",
        "{\"a\": \"open\n{\"b\":2}",
        "{\"a\":1}\n{\"b\":",
        "\u{feff}{\"a\":1}\r\n\u{feff}{\"b\":2}  trailing words",
        "",
        " \n\t\r\n",
        "{\"escaped\":\"\\\\\"}{\"quote\":\"\\\"\"}\n",
    ];

    /// Events cut anywhere by reads of any size (one byte, a few, a prime, more than the input) give exactly the
    /// chunks of the whole input: `}{` files, a broken event at a read boundary, an open string, invalid UTF-8.
    #[test]
    fn reads_of_any_size_give_the_chunks_of_the_whole_input() {
        let mut inputs: Vec<Vec<u8>> = INPUTS.iter().map(|s| s.as_bytes().to_vec()).collect();
        let mut invalid = b"{\"a\":\"".to_vec();
        invalid.push(0xff);
        invalid.extend_from_slice(b"\"}\n{\"b\":2}");
        inputs.push(invalid);
        let samples = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/events")).unwrap();
        inputs.extend(samples.map(|entry| std::fs::read(entry.unwrap().path()).unwrap()));
        for data in &inputs {
            let expected = whole(data);
            for sizes in [&[1][..], &[2, 3, 5, 7], &[13], &[4096]] {
                for (read_bytes, max) in [(1, 1), (3, 2), (64, 1000), (1 << 20, 3)] {
                    let got = streamed(data, sizes, read_bytes, max);
                    assert_eq!(
                        got,
                        expected,
                        "{:?} read {sizes:?} / {read_bytes}, {max} at a time",
                        String::from_utf8_lossy(data)
                    );
                }
            }
        }
    }

    /// A chunk that never closes is cut at the limit, piece by piece: every byte is still reported, the buffer
    /// never holds more than a chunk and a read, and the events after it are found.
    #[test]
    fn a_chunk_that_never_closes_is_cut_at_the_limit() {
        let mut data = b"{\"open\": \"".to_vec();
        data.extend(std::iter::repeat_n(b'x', 10_000));
        data.extend_from_slice(b"\n{\"after\":1}\n");
        let mut stream = Stream::with_sizes(&data[..], "t".into(), 100, 1000);
        let mut texts = Vec::new();
        let mut most = 0;
        loop {
            let chunks = stream.next_chunks(10).unwrap();
            if chunks.is_empty() {
                break;
            }
            for chunk in chunks {
                texts.push(match chunk {
                    Chunk::Object { text, .. } => text.to_owned(),
                    Chunk::Broken { text, .. } => text,
                });
            }
            most = most.max(stream.buffered());
        }
        assert_eq!(texts.last().unwrap(), "{\"after\":1}");
        assert_eq!(texts.iter().map(String::len).sum::<usize>(), data.len() - 2, "every byte but the newlines");
        assert!(most <= 1100, "{most}");
        // Whitespace longer than the limit is skipped, not cut.
        let spaced = format!("{}\n{{\"x\":1}}", " ".repeat(3000));
        let mut stream = Stream::with_sizes(spaced.as_bytes(), "t".into(), 100, 1000);
        let chunks = stream.next_chunks(10).unwrap();
        assert!(matches!(&chunks[..], [Chunk::Object { text: "{\"x\":1}", source }] if source.line() == Some(2)));
    }

    /// 100 MB of events through a stream hold a buffer of a read and a chunk, whatever the input's size.
    #[test]
    fn memory_is_flat_in_the_input() {
        let event =
            b"{\"id\":\"e\",\"detail\":{\"eventBody\":{\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}}\n";
        let reader = Repeat { event, left: 100_000_000 };
        let mut stream = Stream::new(reader, "t".into());
        let (mut events, mut most) = (0, 0);
        loop {
            let chunks = stream.next_chunks(1000).unwrap();
            if chunks.is_empty() {
                break;
            }
            events += chunks.len();
            most = most.max(stream.buffered());
        }
        assert_eq!(events, 100_000_000_usize.div_ceil(event.len()), "every event, the last one cut short");
        assert!(most <= 2 * READ_BYTES, "{most}");
    }

    /// `left` bytes of `event` over and over (the last one cut short).
    struct Repeat<'a> {
        event: &'a [u8],
        left: usize,
    }

    impl Read for Repeat<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let mut written = 0;
            while written < out.len() && self.left > 0 {
                let from = (100_000_000 - self.left) % self.event.len();
                let size = (self.event.len() - from).min(out.len() - written).min(self.left);
                out[written..written + size].copy_from_slice(&self.event[from..from + size]);
                written += size;
                self.left -= size;
            }
            Ok(written)
        }
    }
}
