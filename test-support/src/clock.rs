//! A test's day 0: the next Monday, 09:00 UTC, after the wall clock when the test process
//! first asks. Examination periods and due dates count banking days, so a test whose chain
//! started on a Saturday would see an at-sight payment fall due on Monday; every test chain
//! starts its clock here instead (see [`align`]), and [`crate::fixtures`] dates count from
//! here, so a test means the same on any day of the week.

use std::sync::OnceLock;

/// Seconds in a day.
pub const DAY: u64 = 86_400;

/// Unix seconds of the next Monday 09:00 UTC strictly after `now`.
#[must_use]
pub fn next_monday_morning(now: u64) -> u64 {
    // 1970-01-01 was a Thursday: day `d` is a Monday when (d + 3) % 7 == 0.
    let mut day = now / DAY + 1;
    while !(day + 3).is_multiple_of(7) {
        day += 1;
    }
    day * DAY + 9 * 3_600
}

/// This process's day 0 (fixed at the first call).
pub fn day0() -> u64 {
    static DAY0: OnceLock<u64> = OnceLock::new();
    *DAY0.get_or_init(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        next_monday_morning(now)
    })
}

/// Move a dev node's clock to day 0 and seal a block there.
#[cfg(feature = "node")]
pub fn align(node: &tradechain_engine::Node) {
    let now = tradechain_engine::node::unix_now();
    node.increase_time(day0().saturating_sub(now)).expect("a dev node's clock moves");
    node.mine(None).expect("a dev node mines on demand");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day0_is_a_monday_morning_within_the_next_week() {
        // Saturday 2026-11-28 12:00 UTC → Monday 2026-11-30 09:00 UTC.
        assert_eq!(next_monday_morning(1_795_867_200), 1_796_029_200);
        // Monday 2026-11-30 10:00 → Monday 2026-12-07 09:00 (strictly later).
        assert_eq!(next_monday_morning(1_796_032_800), 1_796_634_000);
        // Sunday 2026-11-29 23:59:59 → the next morning.
        assert_eq!(next_monday_morning(1_795_996_799), 1_796_029_200);
    }
}
