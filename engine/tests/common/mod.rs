//! Helpers shared by the engine's integration tests.

/// Fills `value` with xorshift noise from `state`: incompressible, so a block
/// on disk is as large as in memory.
pub fn fill_random(value: &mut [u8], state: &mut u64) {
    for b in value.iter_mut() {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *b = *state as u8;
    }
}
