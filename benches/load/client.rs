//! The closed-loop HTTP/1.1 client: a fixed number of keep-alive connections, each sending its
//! next request as soon as the previous answer is read. Request bytes are built before the clock
//! starts and responses are read by their `Content-Length`, so the client spends its core on
//! syscalls, not on HTTP machinery.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What one timed run measured.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Requests started after the warm-up and answered before the end.
    pub completed: u64,
    /// Answers whose status was not the expected one (counted in `completed` too).
    pub wrong_status: u64,
    /// The first unexpected status seen, for the report.
    pub first_wrong: Option<u16>,
    /// Latency of every completed request, in nanoseconds.
    pub latencies_ns: Vec<u64>,
}

impl Outcome {
    pub fn merge(&mut self, other: Outcome) {
        self.completed += other.completed;
        self.wrong_status += other.wrong_status;
        self.first_wrong = self.first_wrong.or(other.first_wrong);
        self.latencies_ns.extend(other.latencies_ns);
    }
}

/// Drives `addr` with `concurrency` connections for `warmup + measure`; worker `w` sends
/// `requests[w]`, `requests[w + concurrency]`, … cycling through the pool.
pub async fn drive(
    addr: SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    expect: u16,
    concurrency: usize,
    warmup: Duration,
    measure: Duration,
) -> Outcome {
    let start = Instant::now();
    let from = start + warmup;
    let until = from + measure;
    let mut workers = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let requests = Arc::clone(&requests);
        workers.push(tokio::spawn(async move {
            run_worker(addr, &requests, worker, concurrency, expect, from, until).await
        }));
    }
    // A server that stops answering must fail the run, not hang it.
    let deadline = tokio::time::Instant::from_std(until + Duration::from_secs(10));
    let mut total = Outcome::default();
    for worker in workers {
        let outcome = tokio::time::timeout_at(deadline, worker)
            .await
            .expect("a server stopped answering")
            .expect("worker panicked");
        total.merge(outcome);
    }
    total
}

async fn run_worker(
    addr: SocketAddr,
    requests: &[Vec<u8>],
    first: usize,
    stride: usize,
    expect: u16,
    from: Instant,
    until: Instant,
) -> Outcome {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut outcome = Outcome {
        latencies_ns: Vec::with_capacity(1 << 14),
        ..Outcome::default()
    };
    let mut buf = vec![0u8; 16 * 1024];
    let mut index = first % requests.len();
    loop {
        let sent = Instant::now();
        if sent >= until {
            break;
        }
        let status = exchange(&mut stream, &requests[index], &mut buf).await;
        let answered = Instant::now();
        index = (index + stride) % requests.len();
        if sent >= from && answered <= until {
            outcome.completed += 1;
            outcome
                .latencies_ns
                .push((answered - sent).as_nanos() as u64);
            if status != expect {
                outcome.wrong_status += 1;
                outcome.first_wrong.get_or_insert(status);
            }
        }
    }
    outcome
}

/// Sends one request and reads its whole answer; returns the status.
async fn exchange(stream: &mut TcpStream, request: &[u8], buf: &mut [u8]) -> u16 {
    stream.write_all(request).await.expect("write");
    let mut len = 0;
    loop {
        let n = stream.read(&mut buf[len..]).await.expect("read");
        assert!(n > 0, "the server closed the connection");
        len += n;
        if let Some(head) = find(&buf[..len], b"\r\n\r\n") {
            let (status, body_len) = parse_head(&buf[..head]);
            let total = head + 4 + body_len;
            assert!(total <= buf.len(), "answer larger than the read buffer");
            while len < total {
                let n = stream.read(&mut buf[len..total]).await.expect("read");
                assert!(n > 0, "the server closed the connection");
                len += n;
            }
            return status;
        }
        assert!(len < buf.len(), "answer head larger than the read buffer");
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(head: &[u8]) -> (u16, usize) {
    let text = std::str::from_utf8(head).expect("ASCII head");
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let body_len = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map(|(_, value)| value.trim().parse().expect("content-length"))
        .expect("answers carry a Content-Length");
    (status, body_len)
}
