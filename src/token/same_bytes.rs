//! Constant-time byte comparison, on its own so that `benches/load/server.rs` compiles this very
//! code into its floors (`#[path]`) instead of a copy.

/// True when `a` and `b` are the same bytes, in time that depends on their lengths only: a
/// request's token is compared with a cached one, and how far they agree must not leak.
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    // A byte-wise OR of differences, with no exit: the compiler makes it vector code, four
    // 16-byte lanes a step over 64-byte blocks. The bytes after the last whole block are
    // compared as part of the last 64 bytes (some twice, which changes nothing), so no byte-wise
    // loop runs on a token of 64 bytes or more.
    let diff = match (a.last_chunk::<64>(), b.last_chunk::<64>()) {
        (Some(a_last), Some(b_last)) => {
            let mut lanes = [0u8; 64];
            for (x, y) in a.as_chunks::<64>().0.iter().zip(b.as_chunks::<64>().0) {
                or_differences(&mut lanes, x, y);
            }
            or_differences(&mut lanes, a_last, b_last);
            lanes.iter().fold(0u8, |diff, lane| diff | lane)
        }
        _ => a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)),
    };
    // The optimizer may not turn the fold into an early exit once it cannot see the result.
    std::hint::black_box(diff) == 0
}

/// ORs the byte-wise differences of two 64-byte blocks into `lanes`.
#[inline(always)]
fn or_differences(lanes: &mut [u8; 64], x: &[u8; 64], y: &[u8; 64]) {
    for ((lane, x), y) in lanes.iter_mut().zip(x).zip(y) {
        *lane |= x ^ y;
    }
}
