//! Where each request of an HTTP/1 connection begins and ends, judged before actix-http sees it.
//!
//! actix-http answers a request head it refuses with its own empty-bodied 400 or 431. To answer
//! those in the error envelope instead, a head is held back until it is complete, checked by the
//! rules actix-http applies (RFC 9112 framing: one `Content-Length`, one `Host`, `Transfer-Encoding`
//! only `chunked`, ...), and passed on only when actix-http will accept it. The body that follows is
//! passed on as it arrives; its length is tracked only to know where the next head begins.

// The `http` version actix-http parses with, so a URI or method is judged as it will be.
use http_02::{Method, Uri};

/// Why a request cannot be passed on; each is answered in the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A request line or header that does not parse, or framing headers that contradict.
    Malformed,
    /// A request target longer than any URI the router accepts.
    UriTooLong,
    /// A head above [`MAX_HEAD_BYTES`] or with more than [`MAX_HEADERS`] headers.
    HeadTooLarge,
    /// A head not complete within its deadline.
    HeadTimeout,
}

/// actix-http's own limits, so that nothing passed on is refused by it after all.
pub const MAX_HEAD_BYTES: usize = 128 * 1024;
/// See [`MAX_HEAD_BYTES`].
pub const MAX_HEADERS: usize = 96;
/// The longest URI the `http` crate parses.
const MAX_URI_BYTES: usize = u16::MAX as usize - 1;
/// A chunk-size line longer than this is not one a client sends; the tracking gives up on it.
const MAX_CHUNK_LINE: usize = 4096;

/// The framing state of one connection's request stream.
#[derive(Debug, Default)]
pub struct Framer {
    state: State,
    /// Head bytes held back until the head is complete.
    head: Vec<u8>,
    /// Where the held head's first byte other than CR and LF is, once it has come: empty lines
    /// before a request line are allowed (RFC 9112 2.2) and do not end it.
    content_at: Option<usize>,
}

#[derive(Debug, Default)]
enum State {
    #[default]
    Head,
    /// This many body bytes are still to come.
    Body(u64),
    Chunked(Chunk),
    /// The stream is no longer tracked (an upgrade, `CONNECT`, or chunked framing this tracker does
    /// not follow): what comes is passed on as it is, and actix-http judges it.
    Opaque,
}

#[derive(Debug)]
enum Chunk {
    /// Inside a chunk-size line (or a trailer line); `len` bytes of it so far.
    SizeLine {
        line: Vec<u8>,
    },
    Data(u64),
    /// The line break after a chunk's data.
    DataEnd,
    Trailer {
        line_len: usize,
    },
}

impl Framer {
    /// Takes bytes as read from the client and appends to `out` what may be passed on. An error
    /// is the first request that cannot be; nothing after it is looked at.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Fault> {
        let mut rest = self.feed_until_head(input, out)?;
        while let Some(more) = rest {
            rest = self.feed_until_head(&more, out)?;
        }
        Ok(())
    }

    /// [`Self::feed`] up to the end of the first head that completes; what followed it is returned
    /// to go round again.
    fn feed_until_head(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Option<Vec<u8>>, Fault> {
        while !input.is_empty() {
            match &mut self.state {
                State::Head => {
                    let seen = self.head.len();
                    self.head.extend_from_slice(input);
                    input = &[];
                    // A head can only end at a blank line: parse only when one has arrived, so a
                    // head sent a byte at a time is not parsed again at every byte.
                    if self.content_at.is_none() {
                        self.content_at = self.head[seen..]
                            .iter()
                            .position(|&b| b != b'\r' && b != b'\n')
                            .map(|i| seen + i);
                    }
                    let ends = self
                        .content_at
                        .is_some_and(|at| ends_a_head(&self.head, seen.saturating_sub(3).max(at)));
                    if !ends {
                        if self.head.len() >= MAX_HEAD_BYTES {
                            return Err(Fault::HeadTooLarge);
                        }
                        continue;
                    }
                    let (len, next) = match judge(&self.head)? {
                        Some(parsed) => parsed,
                        None if self.head.len() >= MAX_HEAD_BYTES => {
                            return Err(Fault::HeadTooLarge);
                        }
                        None => continue,
                    };
                    out.extend_from_slice(&self.head[..len]);
                    let rest = self.head.split_off(len);
                    self.head.clear();
                    self.content_at = None;
                    self.state = next;
                    return Ok((!rest.is_empty()).then_some(rest));
                }
                State::Body(left) => {
                    let take = input
                        .len()
                        .min(usize::try_from(*left).unwrap_or(usize::MAX));
                    out.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    *left -= take as u64;
                    if *left == 0 {
                        self.state = State::Head;
                    }
                }
                State::Chunked(chunk) => {
                    let used = match step_chunk(chunk, input) {
                        Step::Used(n) => n,
                        Step::Done(n) => {
                            self.state = State::Head;
                            n
                        }
                        Step::Lost => {
                            self.state = State::Opaque;
                            0
                        }
                    };
                    out.extend_from_slice(&input[..used]);
                    input = &input[used..];
                }
                State::Opaque => {
                    out.extend_from_slice(input);
                    input = &[];
                }
            }
        }
        Ok(None)
    }

    /// Whether part of a head has arrived and the rest has not: the time a head may take runs.
    pub fn head_started(&self) -> bool {
        matches!(self.state, State::Head) && !self.head.is_empty()
    }
}

/// Whether `buf` holds a blank line whose line break begins at or after `from`.
fn ends_a_head(buf: &[u8], from: usize) -> bool {
    (from..buf.len()).any(|i| {
        buf[i] == b'\n'
            && match buf.get(i + 1) {
                Some(b'\n') => true,
                Some(b'\r') => buf.get(i + 2) == Some(&b'\n'),
                _ => false,
            }
    })
}

/// A complete head's length and the state after it; `None` while it is incomplete.
fn judge(buf: &[u8]) -> Result<Option<(usize, State)>, Fault> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        // actix-http accepts a longer head that happens to arrive in one read; refusing it whatever
        // the reads makes the answer the same however the client's bytes were split.
        Ok(httparse::Status::Complete(len)) if len > MAX_HEAD_BYTES => {
            return Err(Fault::HeadTooLarge);
        }
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Fault::HeadTooLarge),
        Err(_) => return Err(Fault::Malformed),
    };
    let method = Method::from_bytes(req.method.unwrap_or_default().as_bytes())
        .map_err(|_| Fault::Malformed)?;
    let path = req.path.unwrap_or_default();
    if path.len() > MAX_URI_BYTES {
        return Err(Fault::UriTooLong);
    }
    Uri::try_from(path).map_err(|_| Fault::Malformed)?;
    let http11 = req.version == Some(1);
    let framing = Framing::of(req.headers, http11)?;
    let next = if method == Method::CONNECT || framing.upgrade {
        State::Opaque
    } else if framing.chunked {
        State::Chunked(Chunk::SizeLine { line: Vec::new() })
    } else {
        match framing.content_length {
            Some(n) if n > 0 => State::Body(n),
            _ if !http11 && method == Method::POST && framing.content_length.is_none() => {
                return Err(Fault::Malformed);
            }
            _ => State::Head,
        }
    };
    Ok(Some((len, next)))
}

/// What a head's headers say about the body, after the checks actix-http makes on them.
struct Framing {
    content_length: Option<u64>,
    chunked: bool,
    upgrade: bool,
}

impl Framing {
    fn of(headers: &[httparse::Header<'_>], http11: bool) -> Result<Self, Fault> {
        let mut content_length = None;
        let mut transfer_encoding = None;
        let mut host = false;
        let mut upgrade = false;
        for h in headers {
            let value = std::str::from_utf8(h.value)
                .map(str::trim)
                .map_err(|_| Fault::Malformed);
            if h.name.eq_ignore_ascii_case("content-length") {
                let v = value?;
                if content_length.is_some() || v.starts_with('+') {
                    return Err(Fault::Malformed);
                }
                content_length = Some(v.parse::<u64>().map_err(|_| Fault::Malformed)?);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                if transfer_encoding.is_some() {
                    return Err(Fault::Malformed);
                }
                transfer_encoding = Some(value?.to_owned());
            } else if h.name.eq_ignore_ascii_case("host") {
                if host {
                    return Err(Fault::Malformed);
                }
                host = true;
            } else if h.name.eq_ignore_ascii_case("upgrade") {
                upgrade |= value.is_ok_and(|v| v.eq_ignore_ascii_case("websocket"));
            }
        }
        if http11 && !host {
            return Err(Fault::Malformed);
        }
        let chunked = match transfer_encoding {
            None => false,
            Some(te)
                if http11 && content_length.is_none() && te.eq_ignore_ascii_case("chunked") =>
            {
                true
            }
            Some(_) => return Err(Fault::Malformed),
        };
        Ok(Self {
            content_length,
            chunked,
            upgrade,
        })
    }
}

enum Step {
    /// This many bytes belong to the chunked body, which goes on.
    Used(usize),
    /// The body ended after this many bytes.
    Done(usize),
    /// The framing is not one this tracker follows.
    Lost,
}

fn step_chunk(chunk: &mut Chunk, input: &[u8]) -> Step {
    let mut used = 0;
    while used < input.len() {
        let rest = &input[used..];
        match chunk {
            Chunk::SizeLine { line } => {
                let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                    line.extend_from_slice(rest);
                    if line.len() > MAX_CHUNK_LINE {
                        return Step::Lost;
                    }
                    return Step::Used(input.len());
                };
                line.extend_from_slice(&rest[..nl]);
                used += nl + 1;
                if line.len() > MAX_CHUNK_LINE {
                    return Step::Lost;
                }
                let Some(size) = chunk_size(line) else {
                    return Step::Lost;
                };
                *chunk = if size == 0 {
                    Chunk::Trailer { line_len: 0 }
                } else {
                    Chunk::Data(size)
                };
            }
            Chunk::Data(left) => {
                let take = rest.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                used += take;
                *left -= take as u64;
                if *left == 0 {
                    *chunk = Chunk::DataEnd;
                }
            }
            Chunk::DataEnd => match rest[0] {
                b'\r' => used += 1,
                b'\n' => {
                    used += 1;
                    *chunk = Chunk::SizeLine { line: Vec::new() };
                }
                _ => return Step::Lost,
            },
            Chunk::Trailer { line_len } => {
                let b = rest[0];
                used += 1;
                match b {
                    b'\r' => {}
                    b'\n' if *line_len == 0 => return Step::Done(used),
                    b'\n' => *line_len = 0,
                    _ if *line_len >= MAX_CHUNK_LINE => return Step::Lost,
                    _ => *line_len += 1,
                }
            }
        }
    }
    Step::Used(used)
}

/// The size of a chunk-size line (`1a;ext=1\r`), hexadecimal before any extension.
fn chunk_size(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = line.split(|&b| b == b';').next()?;
    let digits = std::str::from_utf8(digits).ok()?.trim();
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> (Vec<u8>, Result<(), Fault>) {
        let mut framer = Framer::default();
        let mut out = Vec::new();
        for c in chunks {
            if let Err(f) = framer.feed(c, &mut out) {
                return (out, Err(f));
            }
        }
        (out, Ok(()))
    }

    const GET: &[u8] = b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n";

    #[test]
    fn a_valid_head_passes_whole_and_unchanged_however_it_is_split() {
        let whole = [
            GET,
            b"POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
            GET,
        ]
        .concat();
        for split in 0..whole.len() {
            let (out, r) = run(&[&whole[..split], &whole[split..]]);
            assert_eq!(r, Ok(()));
            assert_eq!(out, whole, "split at {split}");
        }
        let bytewise: Vec<&[u8]> = whole.chunks(1).collect();
        assert_eq!(run(&bytewise), (whole.clone(), Ok(())));
    }

    #[test]
    fn an_incomplete_head_is_held_back() {
        let (out, r) = run(&[b"GET /health HTTP/1.1\r\nHost: t\r\n"]);
        assert_eq!((out, r), (Vec::new(), Ok(())));
    }

    #[test]
    fn a_body_that_looks_like_a_bad_head_is_not_judged() {
        let req =
            b"POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 15\r\n\r\nGARBAGE\r\n\r\n\r\n\r\n";
        assert_eq!(run(&[req]), (req.to_vec(), Ok(())));
    }

    #[test]
    fn framing_the_router_would_refuse_is_a_fault() {
        let cases: [(&[u8], Fault); 9] = [
            (b"GET /a HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", Fault::Malformed),
            (b"GET /a HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n", Fault::Malformed),
            (b"GET /a HTTP/1.1\r\n\r\n", Fault::Malformed),
            (b"GET /a HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\n", Fault::Malformed),
            (b"GET /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", Fault::Malformed),
            (b"GET /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", Fault::Malformed),
            (b"POST /a HTTP/1.0\r\n\r\n", Fault::Malformed),
            (b"G\x01T /a HTTP/1.1\r\nHost: t\r\n\r\n", Fault::Malformed),
            (b"GET /a HTTP/3.0\r\nHost: t\r\n\r\n", Fault::Malformed),
        ];
        for (head, fault) in cases {
            let (out, r) = run(&[GET, head]);
            assert_eq!(r, Err(fault), "{}", String::from_utf8_lossy(head));
            assert_eq!(out, GET, "the request before it is passed on");
        }
    }

    #[test]
    fn size_limits_are_faults_of_their_own() {
        let long = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(70_000));
        assert_eq!(run(&[long.as_bytes()]).1, Err(Fault::UriTooLong));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        let head = format!("GET / HTTP/1.1\r\nHost: t\r\n{many}\r\n");
        assert_eq!(run(&[head.as_bytes()]).1, Err(Fault::HeadTooLarge));
        let endless = vec![b'a'; MAX_HEAD_BYTES];
        assert_eq!(run(&[b"GET /", &endless]).1, Err(Fault::HeadTooLarge));
    }

    #[test]
    fn a_chunked_body_is_followed_to_its_end() {
        let body: &[u8] = b"POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
                            4;x=y\r\nabcd\r\n0\r\nTrailer: 1\r\n\r\n";
        let whole = [body, GET].concat();
        let bytewise: Vec<&[u8]> = whole.chunks(1).collect();
        assert_eq!(run(&bytewise), (whole.clone(), Ok(())));
        // A bad head after it is still judged: the tracker knew where the body ended.
        let (_, r) = run(&[body, b"GET /a HTTP/1.1\r\n\r\n"]);
        assert_eq!(r, Err(Fault::Malformed));
    }

    #[test]
    fn chunked_framing_it_cannot_follow_is_passed_on_for_the_router_to_judge() {
        let req: &[u8] =
            b"POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\x00\x01";
        assert_eq!(run(&[req]), (req.to_vec(), Ok(())));
    }

    #[test]
    fn empty_lines_before_a_request_line_do_not_end_its_head() {
        let input: &[u8] = b"\r\n\r\nc1c1\r\n";
        let whole = run(&[input]);
        assert_eq!(
            whole,
            (Vec::new(), Ok(())),
            "still waiting for the head's end"
        );
        let bytewise: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(&bytewise), whole);
        let valid = [&b"\r\n\n"[..], GET].concat();
        assert_eq!(run(&[&valid]), (valid.clone(), Ok(())));
    }

    #[test]
    fn a_head_is_found_at_every_kind_of_blank_line() {
        for sep in [&b"\r\n\r\n"[..], b"\n\n", b"\r\n\n", b"\n\r\n"] {
            let head = [&b"GET /a HTTP/1.1\r\nHost: t"[..], sep].concat();
            for split in 0..head.len() {
                let (out, r) = run(&[&head[..split], &head[split..]]);
                assert_eq!((out, r), (head.clone(), Ok(())), "split {split}");
            }
        }
    }
}
