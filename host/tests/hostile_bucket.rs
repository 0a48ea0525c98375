//! A rules bucket that serves what it likes: weft reads no object past its limit. A module object that says it is
//! 2 GiB is refused from its Content-Length before its body is read; one that streams without end (no length, as
//! a hostile or broken server may) is cut off at the limit. Both refuse the rule set, naming the object and the
//! limit, and the process stays small. Served by a test server: moto cannot serve a 2 GiB object without storing it.

mod common;

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use weft::engine::Limits;
use weft::rollout::source::{self, SourceError, Trust};

/// A manifest naming `module` (any sha256: the object is refused before its hash is checked).
fn manifest(module: &str) -> String {
    serde_json::json!({"rules": [{"name": "a", "modules": [{"module": module, "sha256": "0".repeat(64)}]}]}).to_string()
}

/// Serves `GET …/manifest-<kind>.json` as a manifest naming `<kind>.wasm`, `declared.wasm` as a 2 GiB object
/// (headers and a few bytes), and `endless.wasm` as a chunked body that never ends.
async fn server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut read = BufReader::new(read);
                loop {
                    let mut request = String::new();
                    if read.read_line(&mut request).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let target = request.split_whitespace().nth(1).unwrap_or("");
                    let path = target.split('?').next().unwrap_or("").to_owned();
                    let mut length = 0usize;
                    loop {
                        let mut line = String::new();
                        read.read_line(&mut line).await.unwrap_or(0);
                        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" || line.is_empty() {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    let _ = read.read_exact(&mut body).await;
                    if let Some(kind) = path.split("manifest-").nth(1).and_then(|p| p.strip_suffix(".json")) {
                        let text = manifest(&format!("{kind}.wasm"));
                        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\netag: \"m\"\r\n\r\n", text.len());
                        let _ = write.write_all((head + &text).as_bytes()).await;
                    } else if path.ends_with("declared.wasm") {
                        let head = "HTTP/1.1 200 OK\r\ncontent-length: 2147483648\r\n\r\n";
                        let _ = write.write_all(head.as_bytes()).await;
                        let _ = write.write_all(&[0; 1024]).await;
                        return;
                    } else {
                        let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
                        if write.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        let chunk =
                            [format!("{:x}\r\n", 1 << 16).into_bytes(), vec![0; 1 << 16], b"\r\n".to_vec()].concat();
                        while write.write_all(&chunk).await.is_ok() {}
                        return;
                    }
                }
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_over_their_limit_are_refused_by_header_or_cut_off_while_read() {
    let url = server().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&common::aws::sdk_config(&url).await).force_path_style(true).build(),
    );
    let (limits, trust) = (Limits::default(), Trust::default());
    let module_limit = limits.module_bytes as u64;
    let cases = [
        ("p/manifest-declared.json", "p/declared.wasm", "module", module_limit, Some(2_147_483_648u64)),
        ("p/manifest-endless.json", "p/endless.wasm", "module", module_limit, None),
        ("p/endless.json", "p/endless.json", "manifest", source::MAX_MANIFEST_BYTES, None),
    ];
    for (key, object, kind, max, declared) in cases {
        let load = source::load_s3(&s3, "rules", key, None, common::engine(), &limits, &trust);
        let Err(refused) = tokio::time::timeout(Duration::from_secs(60), load).await.expect("no hang") else {
            panic!("{key}: loaded")
        };
        let SourceError::TooLarge { location, what, bytes, limit } = &refused.error else {
            panic!("{key}: {}", refused.error)
        };
        assert_eq!((location.as_str(), *what, *limit), (format!("s3://rules/{object}").as_str(), kind, max));
        match declared {
            Some(declared) => assert_eq!(*bytes, declared, "refused from the header"),
            None => assert!(*bytes > max && *bytes <= max + (1 << 20), "{key}: cut off at the limit: {bytes}"),
        }
        assert_eq!(refused.error.class(), "too-large");
    }
    let peak = common::memory_kib("VmHWM") / 1024;
    println!("peak RSS after a 2 GiB object and an endless one: {peak} MiB");
    assert!(peak < 200, "{peak} MiB");
}
