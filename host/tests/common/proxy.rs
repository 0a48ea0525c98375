//! A fault-injecting HTTP proxy between the AWS SDK and the local AWS API server, for the faults that server
//! never produces: partial PutRecords and SendMessageBatch failures, throttling, 5xx answers, connection resets,
//! calls refused whole as invalid, and answers that come too late.
//!
//! A partial failure is real, not cosmetic: the failing entries are taken out of the request before it is
//! forwarded, so the server never stores them, and failure entries are put back into its answer at their
//! positions — exactly what a client sees when Kinesis or SQS refuses some entries of a call. A delayed request
//! is held before it is forwarded, and dropped if the client gives up first: the server never sees it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Default, Clone)]
pub struct Faults {
    /// For this many PutRecords calls, the entries at these positions fail with this error code.
    pub partial: Option<(u32, Vec<usize>, &'static str)>,
    /// Every PutRecords call is refused with ProvisionedThroughputExceededException.
    pub throttle_all: bool,
    /// This many calls (any operation) are answered with a 500.
    pub server_errors: u32,
    /// This many connections are closed as soon as a request arrives.
    pub resets: u32,
    /// Requests whose start line (method and path) contains one of these are dropped mid-request: a server that
    /// becomes unreachable part way through a sequence of calls.
    pub reset_paths: Vec<String>,
    /// PutRecords calls seen.
    pub put_records_calls: u32,
    /// Requests for this operation (the end of `x-amz-target`, e.g. `PutRecords`, `SendMessageBatch`) are held
    /// this long before they are forwarded.
    pub delay: Option<(&'static str, Duration)>,
    /// PutRecords calls with an entry of this partition key are refused whole (ValidationException), as Kinesis
    /// refuses a call with an invalid entry.
    pub invalid_key: Option<String>,
    /// For this many SendMessageBatch calls, the entries at these positions fail, with `SenderFault` as given.
    pub sqs_partial: Option<(u32, Vec<usize>, bool)>,
    /// This many SendMessageBatch calls are throttled.
    pub sqs_throttles: u32,
    /// SendMessageBatch calls seen.
    pub send_message_batch_calls: u32,
}

pub struct Proxy {
    pub url: String,
    pub faults: Arc<Mutex<Faults>>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (host:port) on a free loopback port, on the current tokio runtime.
    pub async fn start(upstream: &str, faults: Faults) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let faults = Arc::new(Mutex::new(faults));
        let (shared, upstream) = (faults.clone(), upstream.to_owned());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, upstream.clone(), shared.clone()));
            }
        });
        Proxy { url, faults }
    }

    pub fn calls(&self) -> u32 {
        self.faults.lock().unwrap().put_records_calls
    }

    pub fn sqs_calls(&self) -> u32 {
        self.faults.lock().unwrap().send_message_batch_calls
    }
}

pub struct Message {
    pub head: Vec<(String, String)>,
    pub start: String,
    pub body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn to_bytes(&self, connection: &str) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.start);
        for (k, v) in &self.head {
            if !["content-length", "connection", "transfer-encoding"].contains(&k.to_ascii_lowercase().as_str()) {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        out.push_str(&format!("content-length: {}\r\nconnection: {connection}\r\n\r\n", self.body.len()));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// Reads one HTTP/1.1 message (head and body, by Content-Length or chunked; else until the peer closes).
pub async fn read_message(stream: &mut TcpStream, buffer: &mut Vec<u8>, until_close: bool) -> Option<Message> {
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head_text = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head_text.split("\r\n");
    let start = lines.next()?.to_owned();
    let head: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
    buffer.drain(..head_end + 4);
    let mut message = Message { head, start, body: Vec::new() };
    let chunked = message.header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let length = message.header("content-length").and_then(|v| v.parse::<usize>().ok());
    let mut chunk = [0u8; 8192];
    if let Some(length) = length {
        while buffer.len() < length {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buffer.extend_from_slice(&chunk[..n]);
        }
        message.body = buffer.drain(..length).collect();
    } else if chunked {
        // Up to the last, empty chunk.
        while !(buffer.starts_with(b"0\r\n\r\n") || buffer.windows(7).any(|w| w == b"\r\n0\r\n\r\n")) {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            buffer.extend_from_slice(&chunk[..n]);
        }
        message.body = dechunk(buffer);
        buffer.clear();
    } else if until_close {
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            buffer.extend_from_slice(&chunk[..n]);
        }
        message.body = std::mem::take(buffer);
    }
    Some(message)
}

fn dechunk(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
        rest = &rest[line_end + 2 + size + 2..];
    }
    out
}

fn response(status: &str, body: Value) -> Message {
    Message {
        start: format!("HTTP/1.1 {status}"),
        head: vec![("content-type".into(), "application/x-amz-json-1.1".into())],
        body: body.to_string().into_bytes(),
    }
}

async fn forward(upstream: &str, request: &Message) -> Option<Message> {
    let mut server = TcpStream::connect(upstream).await.ok()?;
    server.write_all(&request.to_bytes("close")).await.ok()?;
    read_message(&mut server, &mut Vec::new(), true).await
}

async fn serve(mut client: TcpStream, upstream: String, faults: Arc<Mutex<Faults>>) {
    let mut buffer = Vec::new();
    while let Some(mut request) = read_message(&mut client, &mut buffer, false).await {
        let target = request.header("x-amz-target").unwrap_or("").to_owned();
        let put_records = target.ends_with(".PutRecords");
        let send_batch = target.ends_with(".SendMessageBatch");
        let delay = faults.lock().unwrap().delay.filter(|(op, _)| target.ends_with(&format!(".{op}")));
        if let Some((_, delay)) = delay {
            let mut probe = [0u8; 1];
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                // The client gave up (closed the connection): nothing is forwarded.
                _ = client.read(&mut probe) => return,
            }
        }
        if send_batch && let Some(answer) = sqs_fault(&faults, &mut request, &upstream).await {
            let Some(answer) = answer else { return };
            if client.write_all(&answer.to_bytes("keep-alive")).await.is_err() {
                return;
            }
            continue;
        }
        let (reset, server_error, throttle, partial) = {
            let mut f = faults.lock().unwrap();
            if put_records {
                f.put_records_calls += 1;
            }
            let reset = f.resets > 0 || f.reset_paths.iter().any(|p| request.start.contains(p.as_str()));
            f.resets = f.resets.saturating_sub(1);
            let server_error = !reset && f.server_errors > 0;
            if server_error {
                f.server_errors -= 1;
            }
            let partial = match &mut f.partial {
                Some((left, positions, code)) if put_records && *left > 0 => {
                    *left -= 1;
                    Some((positions.clone(), *code))
                }
                _ => None,
            };
            (reset, server_error, put_records && f.throttle_all, partial)
        };
        if reset {
            return; // dropping the connection mid-request
        }
        let invalid = put_records
            && faults.lock().unwrap().invalid_key.as_ref().is_some_and(|key| {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
                body["Records"].as_array().into_iter().flatten().any(|e| e["PartitionKey"] == key.as_str())
            });
        let answer = if invalid {
            Some(response(
                "400 Bad Request",
                json!({"__type": "ValidationException", "message": "1 validation error detected (injected)"}),
            ))
        } else if server_error {
            Some(response("500 Internal Server Error", json!({"__type": "InternalFailure", "message": "injected"})))
        } else if throttle {
            Some(response(
                "400 Bad Request",
                json!({"__type": "ProvisionedThroughputExceededException", "message": "Rate exceeded for stream (injected)"}),
            ))
        } else if let Some((positions, code)) = partial {
            let mut body: Value = serde_json::from_slice(&request.body).unwrap();
            let entries = body["Records"].as_array().unwrap().clone();
            let failing: Vec<usize> = positions.into_iter().filter(|&p| p < entries.len()).collect();
            body["Records"] =
                entries.iter().enumerate().filter(|(i, _)| !failing.contains(i)).map(|(_, e)| e.clone()).collect();
            request.body = body.to_string().into_bytes();
            forward(&upstream, &request).await.map(|mut answer| {
                let mut result: Value = serde_json::from_slice(&answer.body).unwrap();
                let mut results: Vec<Value> = result["Records"].as_array().cloned().unwrap_or_default();
                for &position in &failing {
                    let failure = json!({"ErrorCode": code, "ErrorMessage": "injected partial failure"});
                    results.insert(position.min(results.len()), failure);
                }
                result["FailedRecordCount"] = json!(failing.len());
                result["Records"] = Value::Array(results);
                answer.body = result.to_string().into_bytes();
                answer
            })
        } else {
            forward(&upstream, &request).await
        };
        let Some(answer) = answer else { return };
        if client.write_all(&answer.to_bytes("keep-alive")).await.is_err() {
            return;
        }
    }
}

/// SendMessageBatch faults: `None` when none applies (forward as usual); `Some(None)` when the connection is lost.
async fn sqs_fault(faults: &Mutex<Faults>, request: &mut Message, upstream: &str) -> Option<Option<Message>> {
    let (throttle, partial) = {
        let mut f = faults.lock().unwrap();
        f.send_message_batch_calls += 1;
        let throttle = f.sqs_throttles > 0;
        f.sqs_throttles = f.sqs_throttles.saturating_sub(1);
        let partial = match &mut f.sqs_partial {
            Some((left, positions, sender_fault)) if !throttle && *left > 0 => {
                *left -= 1;
                Some((positions.clone(), *sender_fault))
            }
            _ => None,
        };
        (throttle, partial)
    };
    if throttle {
        return Some(Some(response(
            "400 Bad Request",
            json!({"__type": "com.amazonaws.sqs#RequestThrottled", "message": "Rate exceeded (injected)"}),
        )));
    }
    let (positions, sender_fault) = partial?;
    let mut body: Value = serde_json::from_slice(&request.body).unwrap();
    let entries = body["Entries"].as_array().unwrap().clone();
    let failed: Vec<Value> = positions
        .iter()
        .filter_map(|&p| entries.get(p))
        .map(|e| json!({"Id": e["Id"], "SenderFault": sender_fault, "Code": if sender_fault { "InvalidParameterValue" } else { "InternalError" }, "Message": "injected partial failure"}))
        .collect();
    let kept: Vec<Value> =
        entries.iter().enumerate().filter(|(i, _)| !positions.contains(i)).map(|(_, e)| e.clone()).collect();
    let mut answer = if kept.is_empty() {
        response("200 OK", json!({"Successful": []}))
    } else {
        body["Entries"] = Value::Array(kept);
        request.body = body.to_string().into_bytes();
        match forward(upstream, request).await {
            Some(answer) => answer,
            None => return Some(None),
        }
    };
    let mut result: Value = serde_json::from_slice(&answer.body).unwrap_or_else(|_| json!({}));
    result["Failed"] = Value::Array(failed);
    answer.body = result.to_string().into_bytes();
    Some(Some(answer))
}
