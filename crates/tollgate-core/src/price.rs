//! Money as the policy writes it and the pack ledger keeps it: a decimal amount and a currency
//! code, `99.99 EUR`, held exactly as an integer count of its smallest written unit — no
//! floating point anywhere, so a sum or a share of a price is the same on every machine.

use std::fmt;
use std::str::FromStr;

/// The most decimals an amount may have (ISO 4217 currencies have at most four).
pub const MAX_DECIMALS: u8 = 4;

/// An exact amount of one currency: `minor` units of `10^-decimals` of it (`99.99 EUR` is 9,999
/// hundredths of a euro).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Price {
    minor: u64,
    decimals: u8,
    currency: [u8; 3],
}

/// Why a text is no price.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PriceError {
    /// Not an amount, a space and a currency code.
    #[error("a price is an amount and a currency code, such as `99.99 EUR`")]
    Shape,
    /// The amount is not digits with at most one decimal point.
    #[error(
        "a price's amount is digits with an optional decimal point, such as `99.99` (no sign, no separators)"
    )]
    Amount,
    /// More decimals than any currency has.
    #[error("a price's amount has at most {MAX_DECIMALS} decimals")]
    Decimals,
    /// An amount past what is counted exactly.
    #[error("a price's amount is too large")]
    TooLarge,
    /// The currency is not three capital letters.
    #[error("a price's currency is three capital letters (ISO 4217), such as `EUR`")]
    Currency,
}

impl Price {
    /// `minor` units of `10^-decimals` of `currency` (three capital letters).
    ///
    /// # Errors
    /// More than [`MAX_DECIMALS`] decimals, or a currency that is not three capital letters.
    pub fn new(minor: u64, decimals: u8, currency: &str) -> Result<Self, PriceError> {
        if decimals > MAX_DECIMALS {
            return Err(PriceError::Decimals);
        }
        let currency: [u8; 3] = currency
            .as_bytes()
            .try_into()
            .map_err(|_| PriceError::Currency)?;
        if !currency.iter().all(u8::is_ascii_uppercase) {
            return Err(PriceError::Currency);
        }
        Ok(Self {
            minor,
            decimals,
            currency,
        })
    }

    /// The amount in its smallest written unit (`9999` for `99.99 EUR`).
    #[must_use]
    pub fn minor(&self) -> u64 {
        self.minor
    }

    /// How many decimals the amount is written with.
    #[must_use]
    pub fn decimals(&self) -> u8 {
        self.decimals
    }

    /// The currency code.
    #[must_use]
    pub fn currency(&self) -> &str {
        // Three ASCII capitals, checked when made.
        std::str::from_utf8(&self.currency).unwrap_or("XXX")
    }

    /// The amount as a decimal string, with all its decimals: `99.99`, `5000`, `0.50`.
    #[must_use]
    pub fn amount(&self) -> String {
        let digits = format!(
            "{:0width$}",
            self.minor,
            width = usize::from(self.decimals) + 1
        );
        let (whole, fraction) = digits.split_at(digits.len() - usize::from(self.decimals));
        if fraction.is_empty() {
            whole.to_owned()
        } else {
            format!("{whole}.{fraction}")
        }
    }

    /// The sum of two prices of one currency, written with the more decimals of the two;
    /// `None` for two currencies, or a sum past what is counted exactly.
    #[must_use]
    pub fn checked_add(&self, other: &Self) -> Option<Self> {
        if self.currency != other.currency {
            return None;
        }
        let decimals = self.decimals.max(other.decimals);
        let minor = self
            .rescaled(decimals)?
            .checked_add(other.rescaled(decimals)?)?;
        Some(Self {
            minor,
            decimals,
            currency: self.currency,
        })
    }

    /// `part / whole` of this price, in the same decimals, rounded to the nearest unit with
    /// halves rounded up: `share(319, 365)` of `99.99 EUR` is `87.39 EUR` (87.388…). A `part`
    /// over `whole` counts as `whole`; a `whole` of zero is the whole price.
    #[must_use]
    pub fn share(&self, part: u64, whole: u64) -> Self {
        if whole == 0 {
            return *self;
        }
        let part = u128::from(part.min(whole));
        let whole = u128::from(whole);
        // minor × part < 2^128; up when the remainder is at least half of whole.
        let product = u128::from(self.minor) * part;
        let (quotient, remainder) = (product / whole, product % whole);
        let rounded = quotient + u128::from(remainder >= whole - remainder);
        let minor = u64::try_from(rounded).unwrap_or(self.minor);
        Self { minor, ..*self }
    }

    /// The amount in `decimals` decimals (at least its own), if it fits.
    fn rescaled(&self, decimals: u8) -> Option<u64> {
        let factor = 10u64.checked_pow(u32::from(decimals.checked_sub(self.decimals)?))?;
        self.minor.checked_mul(factor)
    }
}

impl fmt::Display for Price {
    /// As the policy writes it: `99.99 EUR`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} {}", self.amount(), self.currency())
    }
}

impl FromStr for Price {
    type Err = PriceError;

    /// Reads `AMOUNT CURRENCY`: digits with an optional decimal point and at most
    /// [`MAX_DECIMALS`] decimals, one space, three capital letters (`99.99 EUR`, `5000 JPY`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (amount, currency) = text.split_once(' ').ok_or(PriceError::Shape)?;
        let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
        let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
        let dotted = amount.contains('.');
        if whole.is_empty()
            || !digits(whole)
            || !digits(fraction)
            || (dotted && fraction.is_empty())
        {
            return Err(PriceError::Amount);
        }
        let decimals = u8::try_from(fraction.len()).map_err(|_| PriceError::Decimals)?;
        if decimals > MAX_DECIMALS {
            return Err(PriceError::Decimals);
        }
        let minor = format!("{whole}{fraction}")
            .parse::<u64>()
            .map_err(|_| PriceError::TooLarge)?;
        Self::new(minor, decimals, currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(text: &str) -> Price {
        text.parse().unwrap()
    }

    #[test]
    fn reads_and_writes_the_amount_exactly() {
        let euros = price("99.99 EUR");
        assert_eq!(
            (euros.minor(), euros.decimals(), euros.currency()),
            (9_999, 2, "EUR")
        );
        assert_eq!(euros.to_string(), "99.99 EUR");
        assert_eq!(price("5000 JPY").to_string(), "5000 JPY");
        assert_eq!(price("0.50 USD").to_string(), "0.50 USD");
        assert_eq!(price("0.005 KWD").amount(), "0.005");
        assert_eq!(price("007.10 EUR").to_string(), "7.10 EUR");
    }

    #[test]
    fn refuses_what_is_no_price() {
        let error = |text: &str| text.parse::<Price>().unwrap_err();
        assert_eq!(error("99.99"), PriceError::Shape);
        assert_eq!(error("99.99  EUR"), PriceError::Currency);
        assert_eq!(error("-1 EUR"), PriceError::Amount);
        assert_eq!(error("1e3 EUR"), PriceError::Amount);
        assert_eq!(error("1,000 EUR"), PriceError::Amount);
        assert_eq!(error(".5 EUR"), PriceError::Amount);
        assert_eq!(error("5. EUR"), PriceError::Amount);
        assert_eq!(error("1.2.3 EUR"), PriceError::Amount);
        assert_eq!(error("1.23456 EUR"), PriceError::Decimals);
        assert_eq!(error("99999999999999999999 EUR"), PriceError::TooLarge);
        assert_eq!(error("1 eur"), PriceError::Currency);
        assert_eq!(error("1 EURO"), PriceError::Currency);
        assert_eq!(error("1 €"), PriceError::Currency);
    }

    #[test]
    fn a_share_rounds_to_the_nearest_unit_halves_up() {
        let euros = price("99.99 EUR");
        // 9,999 × 319 / 365 = 8,738.85…
        assert_eq!(euros.share(319, 365).to_string(), "87.39 EUR");
        // 1 × 1 / 2 = 0.5: up.
        assert_eq!(price("0.01 EUR").share(1, 2).to_string(), "0.01 EUR");
        // 1 × 1 / 3 = 0.33…: down.
        assert_eq!(price("0.01 EUR").share(1, 3).to_string(), "0.00 EUR");
        assert_eq!(euros.share(365, 365), euros);
        assert_eq!(euros.share(0, 365).minor(), 0);
        assert_eq!(euros.share(400, 365), euros, "never more than the price");
        assert_eq!(euros.share(1, 0), euros);
        let most = Price::new(u64::MAX, 0, "EUR").unwrap();
        assert_eq!(most.share(u64::MAX - 1, u64::MAX).minor(), u64::MAX - 1);
    }

    #[test]
    fn sums_one_currency_in_the_more_decimals() {
        let sum = price("100 EUR").checked_add(&price("0.50 EUR")).unwrap();
        assert_eq!(sum.to_string(), "100.50 EUR");
        assert_eq!(price("1 EUR").checked_add(&price("1 USD")), None);
        let most = Price::new(u64::MAX, 0, "EUR").unwrap();
        assert_eq!(most.checked_add(&price("1 EUR")), None);
        assert_eq!(most.checked_add(&price("0.1 EUR")), None);
    }
}
