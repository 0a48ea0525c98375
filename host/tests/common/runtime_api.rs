//! The Lambda runtime API on loopback: `cargo lambda watch --only-lambda-apis` serves it, and the `weft` binary the
//! test was built with runs as the function (it finds `AWS_LAMBDA_RUNTIME_API` and becomes the Lambda). The test
//! runs the binary itself rather than letting cargo lambda build one: that build resolves features differently
//! from the test build and took minutes.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A child process and everything it started, stopped together.
pub struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        // SIGKILL to the whole group (cargo lambda ignores SIGTERM); `--` so that `-PGID` is not read as an option.
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The runtime API server, and the function once it runs; both stopped when dropped.
pub struct RuntimeApi {
    pub port: u16,
    /// Where the function's standard output goes (its standard error: the same path with extension `err`).
    pub function_log: PathBuf,
    log: PathBuf,
    _apis: Group,
    _function: Option<Group>,
}

fn spawn(command: &mut Command, log: &std::path::Path) -> Group {
    let child = command
        .stdout(Stdio::from(std::fs::File::create(log).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(log.with_extension("err")).unwrap()))
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("cargo-lambda is installed by scripts/setup.sh");
    Group(child)
}

impl RuntimeApi {
    pub fn start() -> RuntimeApi {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = super::repo().join(format!("target/lambda-watch-{port}.log"));
        let apis = spawn(
            Command::new(super::repo().join(".venv/bin/cargo-lambda"))
                .args(["lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1", "--invoke-port"])
                .arg(port.to_string())
                .current_dir(super::repo().join("host")),
            &log,
        );
        let function_log = log.with_extension("function.log");
        RuntimeApi { port, function_log, log, _apis: apis, _function: None }
    }

    /// The `weft` binary as a function of this server, with what cargo lambda tells a function started outside it
    /// to set (it serves that function as `_`) and the local AWS API server's environment.
    pub fn function(&self) -> Command {
        let mut function = Command::new(env!("CARGO_BIN_EXE_weft"));
        function
            .envs(super::aws::env())
            .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{}/.rt", self.port))
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512");
        function
    }

    /// Starts `function` once the server answers, and invokes it with `body`: the first answer's status and body.
    pub async fn first_invocation(mut self, mut function: Command, body: &str) -> (RuntimeApi, (u16, String)) {
        let started = Instant::now();
        let answer = loop {
            if self._function.is_none() && TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                self._function = Some(spawn(&mut function, &self.function_log));
            }
            match invoke(self.port, body).await {
                Ok(answer) if answer.0 != 0 => break answer,
                _ if started.elapsed() < Duration::from_secs(60) => {
                    tokio::time::sleep(Duration::from_millis(500)).await
                }
                other => panic!("the runtime API server did not answer: {other:?}; see {}", self.log.display()),
            }
        };
        (self, answer)
    }

    /// The function process's peak resident memory so far, in KiB (`VmHWM`), while it runs.
    pub fn function_peak_kib(&self) -> Option<u64> {
        let pid = self._function.as_ref()?.0.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// What the function wrote to standard output and standard error.
    pub fn function_output(&self) -> String {
        std::fs::read_to_string(&self.function_log).unwrap_or_default()
            + &std::fs::read_to_string(self.function_log.with_extension("err")).unwrap_or_default()
    }
}

/// POSTs `body` to the invoke endpoint; the answer's status and body.
pub async fn invoke(port: u16, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!(
        "POST /2015-03-31/functions/_/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let answer = super::proxy::read_message(&mut stream, &mut Vec::new(), false)
        .await
        .ok_or_else(|| std::io::Error::other("no answer"))?;
    let status = answer.start.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, String::from_utf8_lossy(&answer.body).into_owned()))
}
