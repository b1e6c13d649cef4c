//! The real binary, as an operator runs it: which binary, a command that carries nothing of the
//! caller's configuration, and `serve` on a free loopback port, ready before it is returned.

use std::{process::Stdio, time::Duration};

use tokio::process::Child;

/// The binary under test. OCTOPUS_TEST_BIN names a copy of this checkout's build, for when a
/// target folder shared by several checkouts may hold another one's by the time a test runs.
pub fn bin() -> String {
    std::env::var("OCTOPUS_TEST_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_octopus-teams").to_string())
}

/// The binary with none of the caller's OCTOPUS_* variables nor DATABASE_URL: a test says
/// everything the run depends on.
pub fn command() -> std::process::Command {
    let mut cmd = std::process::Command::new(bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("OCTOPUS") || k == "DATABASE_URL" {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// A loopback address nothing listens on (the port is released before it is returned).
pub fn free_addr() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("its address")
}

/// `serve` from `cmd` (its configuration already set) on a free loopback port that is also its
/// public address, output discarded, killed on drop. Returns once `/readyz` answers 200. A port
/// chosen free can be taken by another test's connection before the binary binds it: a binary that
/// exits before it is ready is started again on a new port (three tries).
pub async fn serve(cmd: std::process::Command) -> (Child, String) {
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.arg("serve")
        .env("OCTOPUS__METRICS__LISTEN", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for _ in 0..3 {
        let addr = free_addr();
        let base = format!("http://{addr}");
        let mut child = cmd
            .env("OCTOPUS__HTTP__LISTEN", addr.to_string())
            .env("OCTOPUS__HTTP__PUBLIC_BASE_URL", &base)
            .spawn()
            .expect("start the binary");
        if ready_while_running(&mut child, &base, Duration::from_secs(30)).await {
            return (child, base);
        }
    }
    panic!("the binary exited before it was ready, three times");
}

/// Waits until `{base}/readyz` answers 200 (true) or `child` exits (false), at most `wait`.
async fn ready_while_running(child: &mut Child, base: &str, wait: Duration) -> bool {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        let res = client.get(format!("{base}/readyz")).send().await;
        if res.is_ok_and(|r| r.status() == 200) {
            return true;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{base} not ready within {wait:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `{base}/readyz` answers 200, at most `wait`.
pub async fn ready(base: &str, wait: Duration) {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + wait;
    while !client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{base} not ready within {wait:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The binary with `--config config` and `args`, run off the test's runtime (which keeps serving
/// the stand-ins meanwhile): its exit code and what it printed, standard output then error.
pub async fn run_with_config(
    config: &std::path::Path,
    args: &[&str],
    rust_log: &str,
) -> (i32, String) {
    let mut cmd = command();
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", rust_log);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run the binary"))
        .await
        .expect("the binary's task");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}
