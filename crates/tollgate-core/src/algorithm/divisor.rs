//! Division by a divisor fixed when a limit is built, without a `div` instruction.

/// A divisor fixed when a limit is built, divided by with a multiplication and a shift: a
/// 64-bit `div` costs tens of cycles on the hot path of every decision.
#[derive(Clone, Copy)]
pub(crate) struct Divisor(strength_reduce::StrengthReducedU64);

impl Divisor {
    /// `value` must not be zero.
    pub(crate) fn new(value: u64) -> Self {
        Self(strength_reduce::StrengthReducedU64::new(value))
    }

    pub(crate) fn get(self) -> u64 {
        self.0.get()
    }
}

impl std::ops::Div<Divisor> for u64 {
    type Output = u64;

    #[inline]
    fn div(self, divisor: Divisor) -> u64 {
        self / divisor.0
    }
}

impl std::ops::Rem<Divisor> for u64 {
    type Output = u64;

    #[inline]
    fn rem(self, divisor: Divisor) -> u64 {
        self % divisor.0
    }
}

impl PartialEq for Divisor {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for Divisor {}

impl std::fmt::Debug for Divisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}
