//! Window size in band. A serial console carries bytes only: nova-serialproxy
//! relays the websocket's bytes and nothing else, and Horizon's console page
//! (term.js) sends keystrokes only, even when its window is resized. So the
//! size travels as terminal sequences in the client's input, taken out
//! before the bytes reach the container's TTY:
//!
//! - `ESC [ 8 ; rows ; cols t`, at any time: xterm's "resize the text area"
//!   sequence, and what an xterm answers to `ESC [ 18 t`. Any client may send
//!   it when its window changes; keys never produce it.
//! - `ESC [ rows ; cols R`, once, while the session awaits the answer to its
//!   opening probe (cursor to 999;999, then "where is the cursor?": the
//!   answer is the window's size). term.js, xterm.js and real terminals
//!   answer it, so a console opens at the size of the window showing it.

/// Answers a terminal gives to the probe; a session writes it once, first.
/// Save the cursor, go as far down and right as the window allows, ask
/// where the cursor is, restore it.
pub const PROBE: &[u8] = b"\x1b7\x1b[999;999H\x1b[6n\x1b8";

/// What a session's TTY starts with until the client says otherwise: a
/// serial terminal's classic size.
pub const DEFAULT_SIZE: Size = Size { rows: 24, cols: 80 };

/// A sequence longer than this is not one of ours: pass it on.
const MAX_SEQUENCE: usize = 32;
/// Sizes beyond this are a mistake, not a window.
const MAX_DIMENSION: u16 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub rows: u16,
    pub cols: u16,
}

/// Takes the size sequences out of a client's byte stream. A possible start
/// of one at the end of a read is held back until the next read, or until
/// `flush` (a lone ESC key must not wait long: the session flushes after a
/// few milliseconds of silence).
#[derive(Debug, Default)]
pub struct InputFilter {
    pending: Vec<u8>,
    awaiting_probe_answer: bool,
}

impl InputFilter {
    /// A filter that also takes the first cursor-position answer as the
    /// window's size (the session wrote PROBE).
    pub fn after_probe() -> Self {
        InputFilter {
            pending: Vec::new(),
            awaiting_probe_answer: true,
        }
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The held-back bytes, to pass on as they are.
    pub fn flush(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }

    /// Stops waiting for the probe's answer (a terminal that does not
    /// answer; a later cursor report is the shell's).
    pub fn probe_unanswered(&mut self) {
        self.awaiting_probe_answer = false;
    }

    /// The bytes to pass on, and the last size the client asked for.
    pub fn feed(&mut self, data: &[u8]) -> (Vec<u8>, Option<Size>) {
        let mut buf = std::mem::take(&mut self.pending);
        buf.extend_from_slice(data);
        let mut out = Vec::with_capacity(buf.len());
        let mut size = None;
        let mut i = 0;
        while i < buf.len() {
            if buf[i] != 0x1b {
                out.push(buf[i]);
                i += 1;
                continue;
            }
            match self.sequence_at(&buf[i..]) {
                Parsed::Incomplete => {
                    self.pending = buf[i..].to_vec();
                    break;
                }
                Parsed::Size(len, s) => {
                    size = Some(s);
                    i += len;
                }
                Parsed::NotOurs => {
                    out.push(buf[i]);
                    i += 1;
                }
            }
        }
        (out, size)
    }

    fn sequence_at(&mut self, b: &[u8]) -> Parsed {
        // ESC [ params final
        match b.get(1) {
            None => return Parsed::Incomplete,
            Some(b'[') => {}
            Some(_) => return Parsed::NotOurs,
        }
        let params_end = b[2..]
            .iter()
            .position(|c| !(c.is_ascii_digit() || *c == b';'))
            .map(|p| p + 2);
        let Some(end) = params_end else {
            return if b.len() < MAX_SEQUENCE {
                Parsed::Incomplete
            } else {
                Parsed::NotOurs
            };
        };
        let params: Vec<Option<u16>> = std::str::from_utf8(&b[2..end])
            .unwrap_or("")
            .split(';')
            .map(|p| p.parse().ok())
            .collect();
        let size = |rows: Option<u16>, cols: Option<u16>| match (rows, cols) {
            (Some(rows), Some(cols))
                if (1..=MAX_DIMENSION).contains(&rows) && (1..=MAX_DIMENSION).contains(&cols) =>
            {
                Some(Size { rows, cols })
            }
            _ => None,
        };
        match (b[end], params.as_slice()) {
            (b't', [Some(8), rows, cols]) => match size(*rows, *cols) {
                Some(s) => Parsed::Size(end + 1, s),
                None => Parsed::NotOurs,
            },
            (b'R', [rows, cols]) if self.awaiting_probe_answer => match size(*rows, *cols) {
                Some(s) => {
                    self.awaiting_probe_answer = false;
                    Parsed::Size(end + 1, s)
                }
                None => Parsed::NotOurs,
            },
            _ => Parsed::NotOurs,
        }
    }
}

enum Parsed {
    Incomplete,
    NotOurs,
    /// The sequence's length, and the size it gives.
    Size(usize, Size),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(rows: u16, cols: u16) -> Option<Size> {
        Some(Size { rows, cols })
    }

    #[test]
    fn plain_bytes_and_other_sequences_pass() {
        let mut f = InputFilter::default();
        let keys = b"ls -l\r\x1b[A\x1b[3~\x1bOP\x00\x01\x02\xff";
        assert_eq!(f.feed(keys), (keys.to_vec(), None));
        assert!(!f.has_pending());
        // A cursor report nobody asked the service for is the shell's.
        assert_eq!(f.feed(b"\x1b[12;40R"), (b"\x1b[12;40R".to_vec(), None));
    }

    #[test]
    fn resize_sequences_are_taken_out() {
        let mut f = InputFilter::default();
        assert_eq!(f.feed(b"a\x1b[8;50;132tb"), (b"ab".to_vec(), size(50, 132)));
        // Zero or absurd sizes are not ours.
        assert_eq!(f.feed(b"\x1b[8;0;80t"), (b"\x1b[8;0;80t".to_vec(), None));
        assert_eq!(
            f.feed(b"\x1b[8;24;99999t"),
            (b"\x1b[8;24;99999t".to_vec(), None)
        );
    }

    #[test]
    fn a_sequence_split_across_reads_is_held_back() {
        let mut f = InputFilter::default();
        assert_eq!(f.feed(b"x\x1b[8;4"), (b"x".to_vec(), None));
        assert!(f.has_pending());
        assert_eq!(f.feed(b"0;100ty"), (b"y".to_vec(), size(40, 100)));
        // A lone ESC key comes out on flush.
        assert_eq!(f.feed(b"\x1b"), (Vec::new(), None));
        assert_eq!(f.flush(), b"\x1b");
        assert!(!f.has_pending());
    }

    #[test]
    fn the_probe_answer_is_taken_once() {
        let mut f = InputFilter::after_probe();
        assert_eq!(f.feed(b"\r\x1b[37;121R"), (b"\r".to_vec(), size(37, 121)));
        assert_eq!(f.feed(b"\x1b[37;121R"), (b"\x1b[37;121R".to_vec(), None));
        let mut f = InputFilter::after_probe();
        f.probe_unanswered();
        assert_eq!(f.feed(b"\x1b[5;5R"), (b"\x1b[5;5R".to_vec(), None));
    }

    #[test]
    fn long_parameter_runs_are_not_held_forever() {
        let mut f = InputFilter::default();
        let mut data = b"\x1b[".to_vec();
        data.extend(std::iter::repeat_n(b'1', 40));
        assert_eq!(f.feed(&data), (data.clone(), None));
    }
}
