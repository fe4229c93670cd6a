//! A real nginx (Debian's, installed by `interop/browser-setup.sh`) as a reverse proxy in front
//! of a server of the test's: its own config, pid, logs and temp files in a temp dir, a free
//! loopback port, awaited by connecting to it, killed when dropped.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long nginx may take to start listening before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(20);

const NGINX: &str = "/usr/sbin/nginx";

/// nginx proxying to an upstream, running until dropped.
pub struct Nginx {
    /// Where browsers (the test's clients) reach it.
    pub addr: SocketAddr,
    child: Child,
    dir: PathBuf,
}

impl Nginx {
    /// Starts nginx on a free loopback port, proxying every path to `upstream` (HTTP/1.1,
    /// WebSocket upgrades passed on, `X-Forwarded-Host` and `X-Forwarded-Proto` set), and
    /// waits until it accepts connections.
    pub fn start(upstream: SocketAddr) -> Nginx {
        super::setup::install_browser_tools();
        let dir = temp_dir();
        let port = free_port();
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config(&dir, port, upstream)).unwrap();
        let stderr = std::fs::File::create(dir.join("stderr.log")).unwrap();
        let child = Command::new(NGINX)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {NGINX}: {e}"));
        let mut nginx = Nginx {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
            dir,
        };
        nginx.wait_until_listening();
        nginx
    }

    /// Connects until nginx accepts (no fixed sleep); fails with its error log if it exits or
    /// takes too long.
    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if std::net::TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "nginx exited ({status}) before listening on {}:\n{}",
                    self.addr,
                    self.log()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "nginx did not listen on {} within {START_TIMEOUT:?}:\n{}",
                    self.addr,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What nginx said (its stderr, then its error log), for a failure's message.
    pub fn log(&self) -> String {
        ["stderr.log", "error.log"]
            .iter()
            .map(|name| {
                std::fs::read_to_string(self.dir.join(name))
                    .unwrap_or_else(|e| format!("(no {name}: {e})"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn http_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    /// The proxy's public origin: that of a page it serves.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One process (`master_process off`: no workers switching to another user), everything it
/// writes under `dir`, the proxy settings the README recommends.
fn config(dir: &Path, port: u16, upstream: SocketAddr) -> String {
    let dir = dir.display();
    format!(
        r#"daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{
    worker_connections 128;
}}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"#
    )
}

/// A fresh directory for one nginx.
fn temp_dir() -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "capnweb-nginx-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let dir = std::env::temp_dir().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A loopback port free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
