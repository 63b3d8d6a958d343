//! `add`: the seed's arithmetic tool. The sum is printed as JavaScript's `String(a + b)`
//! would print it, so answers match the TypeScript demo digit for digit.

use serde::Deserialize;

use super::{Schema, ToolDef, Typed};
use crate::protocol::call::{Call, Stop};

#[derive(Deserialize, Schema)]
pub struct Add {
    /// The first addend.
    a: f64,
    /// The second addend.
    b: f64,
}

pub const TOOL: ToolDef = ToolDef::new(
    "add",
    "Add two numbers",
    "Adds two numbers and returns the sum as text. Use it for exact arithmetic instead of \
     computing sums yourself.",
    &Typed::new(add),
)
.read_only()
.idempotent();

async fn add(Add { a, b }: Add, _: &mut Call<'_>) -> Result<String, Stop> {
    Ok(js_number_to_string(a + b))
}

/// ECMAScript `Number::toString(x)` for radix 10 (ECMA-262 §6.1.6.1.20): the shortest
/// digits that round-trip, in plain notation from 1e-6 up to 1e21, exponential outside.
pub fn js_number_to_string(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x == 0.0 {
        return "0".into(); // both +0 and -0
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if x < 0.0 {
        return format!("-{}", js_number_to_string(-x));
    }
    // Rust's `{:e}` prints the shortest round-trip digits: "d.ddde±x" or "de±x".
    let scientific = format!("{x:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    // x = 0.digits × 10^n
    let n = exponent.parse::<i32>().unwrap_or(0) + 1;
    if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        format!("{int}.{frac}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let sign = if e < 0 { '-' } else { '+' };
        let (first, rest) = digits.split_at(1);
        if rest.is_empty() {
            format!("{first}e{sign}{}", e.abs())
        } else {
            format!("{first}.{rest}e{sign}{}", e.abs())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::js_number_to_string as js;

    // Expected strings are what `String(x)` prints in Node.js for the same double.
    #[test]
    fn matches_javascript_number_formatting() {
        let cases: &[(f64, &str)] = &[
            (5.0, "5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-1.5, "-1.5"),
            (-0.0, "0"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (123456789012345680000.0, "123456789012345680000"),
            (0.000001, "0.000001"),
            (0.0000001, "1e-7"),
            (1.2345e-7, "1.2345e-7"),
            (100.0, "100"),
            (1e300 * 1e10, "Infinity"),
            (-1e300 * 1e10, "-Infinity"),
            (9007199254740993.0, "9007199254740992"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (12.5, "12.5"),
        ];
        for (x, expected) in cases {
            assert_eq!(js(*x), *expected, "String({x:e})");
        }
    }
}
