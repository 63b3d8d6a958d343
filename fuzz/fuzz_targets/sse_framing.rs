//! SSE framing: whatever bytes a message holds, a client parsing the frame as the HTML
//! standard's event-stream parser does gets exactly one event, with the event name the
//! server chose and the data back (line breaks normalized to LF, as SSE defines).
#![no_main]

use libfuzzer_sys::fuzz_target;
use remote_mcp_server::transport::stream;

fuzz_target!(|input: (Option<u64>, Vec<u8>)| {
    let (id, data) = input;
    let Ok(text) = String::from_utf8(data) else {
        return;
    };
    let id_text = id.map(|i| i.to_string());
    let frame = stream::event(id_text.as_deref(), "message", text.as_bytes());
    let frame = String::from_utf8(frame).expect("the frame of UTF-8 data is UTF-8");
    let events = parse(&frame);
    assert_eq!(events.len(), 1, "{frame:?}");
    let (parsed_id, name, parsed_data) = &events[0];
    assert_eq!(parsed_id, &id.map(|i| i.to_string()));
    assert_eq!(name, "message");
    let expected = text.replace("\r\n", "\n").replace('\r', "\n");
    assert_eq!(parsed_data, &expected);
});

/// The event-stream parsing algorithm (HTML Living Standard §9.2.6), reduced to what the
/// assertion needs: id, event name, data of each dispatched event.
fn parse(stream: &str) -> Vec<(Option<String>, String, String)> {
    let mut events = Vec::new();
    let (mut id, mut name, mut data) = (None::<String>, String::new(), String::new());
    let normalized = stream.replace("\r\n", "\n").replace('\r', "\n");
    for line in normalized.split('\n') {
        if line.is_empty() {
            if !data.is_empty() {
                data.pop(); // the last line's LF
                let event_name = if name.is_empty() { "message" } else { &name };
                events.push((
                    id.clone(),
                    event_name.to_string(),
                    std::mem::take(&mut data),
                ));
            }
            name.clear();
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => name = value.to_string(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => id = Some(value.to_string()),
            _ => {}
        }
    }
    events
}
