//! `countdown`: visible work over time. It counts down one step per interval, reporting
//! progress (when the client sent a progress token) and a log message per step, so a
//! client such as the MCP Inspector shows the result streaming in. Cancelling the request
//! stops it.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Schema, Structured, ToolDef, Typed};
use crate::protocol::call::{Call, LogLevel, Stop};

#[derive(Deserialize, Schema)]
pub struct Countdown {
    /// Where to start counting.
    #[schema(minimum = 1, maximum = 60, default = 5)]
    from: u64,
    /// Milliseconds between steps.
    #[schema(minimum = 10, maximum = 5000, default = 500)]
    interval_ms: u64,
}

/// The result: how many steps were counted.
#[derive(Serialize, Schema)]
pub struct Counted {
    counted: u64,
}

pub const TOOL: ToolDef = ToolDef::new(
    "countdown",
    "Count down",
    "Counts down from a number, one step per interval, reporting progress and a log \
     message at each step. A demonstration of streamed results.",
    &Typed::new(countdown),
)
.read_only()
.idempotent();

async fn countdown(
    Countdown { from, interval_ms }: Countdown,
    call: &mut Call<'_>,
) -> Result<Structured<Counted>, Stop> {
    // Refused at once where the host would cut the request before the end.
    call.expect_to_take(from * interval_ms)?;
    for left in (0..=from).rev() {
        let done = from - left;
        call.progress(
            done as f64,
            Some(from as f64),
            Some(&format!("{left} to go")),
        )
        .await?;
        call.log(LogLevel::Info, "countdown", json!(format!("{left}")))
            .await?;
        if left > 0 {
            call.sleep_ms(interval_ms).await?;
        }
    }
    Ok(Structured(Counted { counted: from }))
}
