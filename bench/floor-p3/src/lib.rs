//! Answers every request with `200 ok`, nothing more (WASIp3).

use wasip3::exports::http::handler::Guest;
use wasip3::http::types::{ErrorCode, Fields, Request, Response};
use wasip3::{wit_bindgen, wit_future, wit_stream};

struct Floor;

impl Guest for Floor {
    async fn handle(_request: Request) -> Result<Response, ErrorCode> {
        let headers = Fields::new();
        let _ = headers.append("content-length", b"2");
        let (mut body, body_reader) = wit_stream::new();
        let (trailers, no_trailers) = wit_future::new(|| Ok(None));
        drop(trailers);
        let (response, _delivered) = Response::new(headers, Some(body_reader), no_trailers);
        wit_bindgen::spawn(async move {
            let _ = body.write_all(b"ok".to_vec()).await;
        });
        Ok(response)
    }
}

wasip3::http::service::export!(Floor);
