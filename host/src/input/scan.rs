//! Where a top-level object ends: the splitter's inner loop, 64 bytes at a time.
//!
//! Most of an event is strings, and a byte-at-a-time scan (even one that jumps through strings with `memchr`)
//! pays per string: `weft run` spent 0.41 µs per 1 KB event finding ends that way. Here each 64-byte block gives
//! bit masks of its quotes, backslashes, brackets and line ends; which quotes are escaped and which bytes are
//! inside strings follow from the masks with integer arithmetic (the technique of simdjson's first stage), and
//! only the brackets and line ends outside strings are visited one by one.
//!
//! [`bytewise`] is the definition: the block scan answers exactly as it does (a test compares them on generated
//! input), and hands over to it for the one case the masks cannot decide cheaply, a backslash outside strings
//! (never in JSON, so never on the fast path).

/// The end (exclusive) of the object starting with the `{` at `start`, or where a broken one stops and why.
pub(super) fn object_end(data: &[u8], start: usize) -> Result<usize, (usize, &'static str)> {
    let mut depth = 0usize;
    // Carried from block to block: whether the block starts inside a string (all ones) or not, and whether its
    // first byte is escaped by a backslash that ended the previous block (1) or not.
    let mut in_string = 0u64;
    let mut escape_carry = 0u64;
    let mut at = start;
    while at < data.len() {
        let (block, valid) = block_at(data, at);
        let masks = Masks::of(&block);
        let escaped = escaped(masks.backslash, &mut escape_carry);
        let inside = prefix_xor(masks.quote & !escaped) ^ in_string;
        in_string = ((inside as i64) >> 63) as u64;
        if masks.backslash & !inside & valid != 0 {
            return bytewise(data, start);
        }
        let mut visit = (((masks.open | masks.close) & !inside) | (masks.newline & !escaped)) & valid;
        while visit != 0 {
            let bit = visit.trailing_zeros();
            visit &= visit - 1;
            let i = at + bit as usize;
            match data[i] {
                b'\n' if (inside >> bit) & 1 == 1 => return Err((i, UNTERMINATED_STRING_LINE)),
                b'\n' if data.get(i + 1) == Some(&b'{') => return Err((i, UNTERMINATED_OBJECT_LINE)),
                b'\n' => {}
                b'{' | b'[' => depth += 1,
                _ => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(i + 1);
                    }
                }
            }
        }
        at += 64;
    }
    Err((data.len(), if in_string != 0 { UNTERMINATED_STRING_END } else { UNTERMINATED_OBJECT_END }))
}

const UNTERMINATED_STRING_LINE: &str = "unterminated string (a line ends inside it)";
const UNTERMINATED_STRING_END: &str = "unterminated string at the end of the input";
const UNTERMINATED_OBJECT_LINE: &str = "unterminated object (a new one starts on the next line)";
const UNTERMINATED_OBJECT_END: &str = "unterminated object at the end of the input";

/// The 64 bytes from `at` (the last block padded with spaces, which mean nothing to the scan), and a mask of
/// those that are data.
pub(super) fn block_at(data: &[u8], at: usize) -> ([u8; 64], u64) {
    let mut block = [b' '; 64];
    let rest = &data[at..];
    if let Some(full) = rest.first_chunk::<64>() {
        return (*full, u64::MAX);
    }
    block[..rest.len()].copy_from_slice(rest);
    (block, (1u64 << rest.len()) - 1)
}

/// One bit per byte of a block, for each kind of byte the scans look at.
pub(super) struct Masks {
    pub(super) quote: u64,
    pub(super) backslash: u64,
    newline: u64,
    /// `{` and `[`.
    open: u64,
    /// `}` and `]`.
    close: u64,
    /// Bytes below 0x20, which JSON allows in no string.
    pub(super) control: u64,
}

impl Masks {
    /// SSE2, which every x86-64 processor has: sixteen bytes compared at once. Inlined, so that each caller
    /// computes only the masks it reads.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(super) fn of(block: &[u8; 64]) -> Masks {
        // SAFETY: SSE2 is part of x86-64 itself (the target enables it): the processor has it.
        unsafe { Masks::sse2(block) }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "sse2")]
    #[inline]
    fn sse2(block: &[u8; 64]) -> Masks {
        use std::arch::x86_64::*;
        // SAFETY: the loads read 16 bytes each at offsets 0, 16, 32 and 48 of a 64-byte array (unaligned loads).
        let lanes: [__m128i; 4] =
            std::array::from_fn(|n| unsafe { _mm_loadu_si128(block.as_ptr().add(16 * n).cast::<__m128i>()) });
        // `{` and `[` (0x7B, 0x5B) differ only in bit 0x20, as do `}` and `]`: with that bit set, one comparison
        // finds both.
        let bits = |byte: u8, fold: u8| {
            let (byte, fold) = (_mm_set1_epi8(byte as i8), _mm_set1_epi8(fold as i8));
            let mut mask = 0u64;
            for (n, lane) in lanes.iter().enumerate() {
                let equal = _mm_cmpeq_epi8(_mm_or_si128(*lane, fold), byte);
                mask |= u64::from(_mm_movemask_epi8(equal) as u16) << (16 * n);
            }
            mask
        };
        // Bytes at or below 0x1F are those the unsigned minimum with 0x1F leaves as they are.
        let mut control = 0u64;
        for (n, lane) in lanes.iter().enumerate() {
            let low = _mm_cmpeq_epi8(_mm_min_epu8(*lane, _mm_set1_epi8(0x1F)), *lane);
            control |= u64::from(_mm_movemask_epi8(low) as u16) << (16 * n);
        }
        Masks {
            quote: bits(b'"', 0),
            backslash: bits(b'\\', 0),
            newline: bits(b'\n', 0),
            open: bits(b'{', 0x20),
            close: bits(b'}', 0x20),
            control,
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    pub(super) fn of(block: &[u8; 64]) -> Masks {
        let bits =
            |test: fn(u8) -> bool| block.iter().enumerate().fold(0u64, |mask, (n, &b)| mask | u64::from(test(b)) << n);
        Masks {
            quote: bits(|b| b == b'"'),
            backslash: bits(|b| b == b'\\'),
            newline: bits(|b| b == b'\n'),
            open: bits(|b| b == b'{' || b == b'['),
            close: bits(|b| b == b'}' || b == b']'),
            control: bits(|b| b < 0x20),
        }
    }
}

/// The bytes a backslash escapes: the one after each backslash that is not itself escaped (in a run of
/// backslashes, every second). `carry` says whether the block's first byte is escaped, and is set for the next.
fn escaped(backslash: u64, carry: &mut u64) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    // A backslash escaped by the previous block's last one escapes nothing.
    let backslash = backslash & !*carry;
    let follows = (backslash << 1) | *carry;
    // Adding a run's first bit to the run carries past its end. For runs that start on an odd bit, that sum flips
    // which bits after a backslash count as escaped (even ones by default): the byte after the run is escaped when
    // the run is odd in length. A carry out of the top bit escapes the next block's first byte.
    let odd_starts = backslash & !EVEN & !follows;
    let (sum, overflow) = odd_starts.overflowing_add(backslash);
    *carry = u64::from(overflow);
    (EVEN ^ (sum << 1)) & follows
}

/// Each bit set when an odd number of bits at or below it are set: with the unescaped quotes, the bytes from an
/// opening quote up to (not including) its closing one.
pub(super) fn prefix_xor(mut bits: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        bits ^= bits << shift;
    }
    bits
}

/// The definition of where an object ends, a byte at a time (jumping through strings with `memchr`).
pub(super) fn bytewise(data: &[u8], start: usize) -> Result<usize, (usize, &'static str)> {
    let mut depth = 0usize;
    let mut i = start;
    while i < data.len() {
        match data[i] {
            b'"' => {
                i += 1;
                loop {
                    let rest = data.get(i..).unwrap_or_default();
                    let Some(found) = memchr::memchr3(b'"', b'\\', b'\n', rest) else {
                        return Err((data.len(), UNTERMINATED_STRING_END));
                    };
                    i += found;
                    match data[i] {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => return Err((i, UNTERMINATED_STRING_LINE)),
                    }
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            b'\n' if data.get(i + 1) == Some(&b'{') => return Err((i, UNTERMINATED_OBJECT_LINE)),
            _ => {}
        }
        i += 1;
    }
    Err((data.len(), UNTERMINATED_OBJECT_END))
}

#[cfg(test)]
mod tests {
    use fastrand::Rng;

    use super::*;

    /// An object's start, then tokens: brackets, line ends and strings whose backslashes escape quotes,
    /// backslashes and line ends, a few strings left open or broken by a line end. Backslashes stay inside strings,
    /// where the blocks decide alone (of the test's 50,000 such inputs, 4,361 are objects longer than a block and
    /// 14,551 break after one).
    fn json_like(random: &mut Rng, len: usize) -> Vec<u8> {
        // Weighted so that most objects run past a block or two before they close or break.
        const OUTSIDE: &[&[u8]] =
            &[b"{", b"{", b"[", b"}", b"]", b" ", b":", b",", b"1", b"\"", b"\"", b"\"", b"\"", b"\"", b"\n", b"\n"];
        const INSIDE: &[&[u8]] =
            &[b"a", b"}", b"{", b"]", b"\\\"", b"\\\\", b"\\\n", b"\\n", b"aaaaaaaaaaaaaaaa", b"\"\"", b"\\\\\\\""];
        const RARE: &[&[u8]] = &[b"\n{", b"\n"];
        let mut data = b"{".to_vec();
        while data.len() < len {
            let token = if random.usize(..200) == 0 {
                RARE[random.usize(..RARE.len())]
            } else {
                OUTSIDE[random.usize(..OUTSIDE.len())]
            };
            data.extend_from_slice(token);
            if token == b"\"" {
                for _ in 0..random.usize(..12) {
                    data.extend_from_slice(INSIDE[random.usize(..INSIDE.len())]);
                }
                if random.usize(..100) == 0 {
                    data.extend_from_slice(RARE[random.usize(..RARE.len())]);
                }
                if random.usize(..50) > 0 {
                    data.push(b'"');
                }
            }
        }
        data
    }

    /// Bytes from an alphabet where every byte matters to the scan, backslashes outside strings among them.
    fn any_bytes(random: &mut Rng, len: usize) -> Vec<u8> {
        const ALPHABET: &[u8] = b"{{{}}}[]\"\"\"\\\\\n ax:,";
        let mut data = b"{".to_vec();
        data.extend((1..len).map(|_| ALPHABET[random.usize(..ALPHABET.len())]));
        data
    }

    #[test]
    fn blocks_answer_as_the_bytewise_scan_does() {
        let mut random = Rng::with_seed(0x9e37_79b9_7f4a_7c15);
        for case in 0..100_000 {
            let len = 1 + random.usize(..400);
            let data = if case % 2 == 0 { json_like(&mut random, len) } else { any_bytes(&mut random, len) };
            assert_eq!(object_end(&data, 0), bytewise(&data, 0), "{:?}", String::from_utf8_lossy(&data));
        }
    }

    #[test]
    fn escapes_across_block_ends() {
        // A run of backslashes of every length ending at every place around the 64-byte boundary, then a quote:
        // escaped when the run is odd.
        for run in 1..6 {
            for end in 58..70 {
                let mut data = b"{\"".to_vec();
                data.resize(end - run, b'a');
                data.extend(std::iter::repeat_n(b'\\', run));
                data.extend_from_slice(b"\"}\"}");
                let expected = if run % 2 == 1 { data.len() } else { data.len() - 2 };
                assert_eq!(object_end(&data, 0), Ok(expected), "run {run} ending at {end}");
                assert_eq!(bytewise(&data, 0), Ok(expected), "run {run} ending at {end}");
            }
        }
    }

    #[test]
    fn strings_and_objects_that_span_blocks() {
        let long = format!("{{\"a\":\"{}\",\"b\":{{\"c\":[{}]}}}}", "}".repeat(200), "1,".repeat(100) + "2");
        assert_eq!(object_end(long.as_bytes(), 0), Ok(long.len()));
        let open = format!("{{\"a\":\"{}", "x".repeat(130));
        assert_eq!(object_end(open.as_bytes(), 0), Err((open.len(), UNTERMINATED_STRING_END)));
        let line = format!("{{\"a\":\"{}\nb\"}}", "x".repeat(100));
        assert_eq!(object_end(line.as_bytes(), 0), Err((line.find('\n').unwrap(), UNTERMINATED_STRING_LINE)));
        let escaped_line = format!("{{\"a\":\"{}\\\nb\"}}", "x".repeat(60));
        assert_eq!(object_end(escaped_line.as_bytes(), 0), Ok(escaped_line.len()));
    }
}
