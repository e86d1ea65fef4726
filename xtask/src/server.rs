//! Starting the server process: in the foreground for `run`, in the
//! background on an ephemeral port for `test`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::{Result, root, step};

/// A server started for tests; stopped (gracefully) when dropped.
pub struct TestServer {
    child: Child,
    pub base_url: String,
    pub log: PathBuf,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// SIGTERM first (graceful shutdown is part of what is tested), then kill.
fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    for _ in 0..50 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads the child's stdout until the `listening on http://…` line, then
/// keeps forwarding (or draining) the rest so the child never blocks.
fn wait_for_listening(child: &mut Child, forward: bool) -> Result<String> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
            if let Some(url) = line.strip_prefix("listening on ")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(url.trim().to_owned());
            }
            if forward {
                println!("{line}");
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(url) => Ok(url),
        Err(_) => Err("the server did not start listening within 60 s".into()),
    }
}

/// `cargo xtask run`: serve until Ctrl-C, after printing what to open.
pub fn serve_foreground(backend: &Path) -> Result {
    step("starting the server");
    let mut child = Command::new(backend)
        .arg("serve")
        .current_dir(root())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", backend.display()))?;
    let url = wait_for_listening(&mut child, true)?;
    let public = std::env::var("MARKET_CODE_PUBLIC_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| url.replace("0.0.0.0", "127.0.0.1"));
    let public = public.trim_end_matches('/');
    println!();
    println!("serving Market Code (市场码) on {public}");
    println!("  home:              {public}/");
    println!("  manager console:   {public}/manager");
    if let Some(stall) = demo_stall_url(backend) {
        // README.md names the holder's mobile, name and ID number to type.
        println!("  demo stall (B-01): {stall}");
    }
    println!("  health:            {public}/api/health");
    println!("press Ctrl-C to stop");
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the server exited ({status})"))
    }
}

/// Asks the server binary for the signed URL of a demo stall.
fn demo_stall_url(backend: &Path) -> Option<String> {
    let out = Command::new(backend)
        .args(["stall-url", "B-01"])
        .current_dir(root())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Starts `backend serve` on an ephemeral port with the given environment,
/// its log in `log`.
pub fn start_for_tests(backend: &Path, env: &[(&str, String)], log: PathBuf) -> Result<TestServer> {
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let mut cmd = Command::new(backend);
    cmd.arg("serve")
        .current_dir(root())
        .env("MARKET_CODE_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(log_file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", backend.display()))?;
    match wait_for_listening(&mut child, false) {
        Ok(base_url) => Ok(TestServer {
            child,
            base_url,
            log,
        }),
        Err(e) => {
            stop(&mut child);
            Err(format!("{e}; see {}", log.display()))
        }
    }
}
