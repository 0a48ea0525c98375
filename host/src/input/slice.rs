//! Chunks that own their text: what a thread that reads input hands to the threads that judge it.
//!
//! A [`Chunk`] borrows from the [`super::Stream`]'s buffer, which the next read overwrites; a `Slice` copies the
//! objects' text into one string (one allocation per slice, not per event) and lends chunks out of it again. Its
//! events keep that string alive ([`super::EventText`]) for as long as delivery needs their text.

use std::sync::Arc;
use std::sync::mpsc::Sender;

use super::text::SharedText;
use super::{Chunk, Source};

pub struct Slice {
    text: Arc<SharedText>,
    pieces: Vec<Piece>,
}

enum Piece {
    /// An object whose text ends at `end` in the slice's text (and starts where the previous object ended).
    Object {
        end: usize,
        source: Source,
    },
    Broken {
        text: String,
        source: Source,
        reason: String,
    },
}

impl Slice {
    /// The slice, in a string of its own.
    pub fn new(chunks: Vec<Chunk<'_>>) -> Slice {
        Slice::in_buffer(chunks, String::new(), None)
    }

    /// The slice in `buffer` (cleared first), which goes `home` when the slice and its last event are gone: no
    /// allocation once buffers are large enough.
    pub fn in_buffer(chunks: Vec<Chunk<'_>>, mut text: String, home: Option<Sender<String>>) -> Slice {
        text.clear();
        let bytes = chunks.iter().map(|c| if let Chunk::Object { text, .. } = c { text.len() } else { 0 }).sum();
        text.reserve(bytes);
        let pieces = chunks
            .into_iter()
            .map(|chunk| match chunk {
                Chunk::Object { text: object, source } => {
                    text.push_str(object);
                    Piece::Object { end: text.len(), source }
                }
                Chunk::Broken { text, source, reason } => Piece::Broken { text, source, reason },
            })
            .collect();
        Slice { text: SharedText::new(text, home), pieces }
    }

    /// The string the slice's objects are in, which [`super::EventText::within`] shares.
    pub fn text(&self) -> &Arc<SharedText> {
        &self.text
    }

    /// The chunks, in order, as the stream gave them.
    pub fn chunks(&self) -> impl Iterator<Item = Chunk<'_>> {
        let mut start = 0;
        self.pieces.iter().map(move |piece| match piece {
            Piece::Object { end, source } => {
                let text = &self.text.as_str()[start..*end];
                start = *end;
                Chunk::Object { text, source: source.clone() }
            }
            Piece::Broken { text, source, reason } => {
                Chunk::Broken { text: text.clone(), source: source.clone(), reason: reason.clone() }
            }
        })
    }

    /// Chunks in the slice: one verdict each.
    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Bytes of input the slice covers (objects and broken pieces).
    pub fn bytes(&self) -> usize {
        let broken: usize =
            self.pieces.iter().map(|p| if let Piece::Broken { text, .. } = p { text.len() } else { 0 }).sum();
        self.text.as_str().len() + broken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lends_back_the_chunks_it_was_given() {
        let input = b"{\"a\":1}\nnot json\n{\"b\":[2]}{\"c\":3}\n";
        let chunks: Vec<Chunk<'_>> = super::super::split(input, "f".into()).collect();
        let slice = Slice::new(chunks.clone());
        assert_eq!(slice.chunks().collect::<Vec<_>>(), chunks);
        assert_eq!(slice.len(), 4);
        assert_eq!(
            slice.bytes(),
            chunks
                .iter()
                .map(|c| match c {
                    Chunk::Object { text, .. } => text.len(),
                    Chunk::Broken { text, .. } => text.len(),
                })
                .sum::<usize>()
        );
    }
}
