//! A real nginx (Debian package) for the tests: its own config, prefix, pid file, logs and temp
//! paths under a temp dir, loopback ports only, in the foreground, killed when dropped.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::wait_for;

pub const NGINX: &str = "/usr/sbin/nginx";

pub struct Nginx {
    child: Child,
    pub dir: tempfile::TempDir,
    /// A master with one worker, for tests that reload nginx: a single process reconfigured by
    /// SIGHUP stops speaking TLS on its ports.
    master: bool,
}

impl Nginx {
    /// Starts nginx with `servers` (server blocks) inside its `http` block and waits until every
    /// port in `ports` accepts connections. `{dir}` in `servers` becomes the temp dir.
    pub fn start(servers: &str, ports: &[u16]) -> Nginx {
        Nginx::launch(servers, ports, false)
    }

    /// As [`Nginx::start`], with a master process and a worker, so that [`Nginx::reload`] works
    /// as in production.
    pub fn start_reloadable(servers: &str, ports: &[u16]) -> Nginx {
        Nginx::launch(servers, ports, true)
    }

    fn launch(servers: &str, ports: &[u16], master: bool) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().display().to_string();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        let config = format!(
            "worker_processes 1;\ndaemon off;\n{}\npid {path}/nginx.pid;\nerror_log {path}/error.log warn;\nevents {{ worker_connections 256; }}\nhttp {{\n  access_log off;\n  server_tokens off;\n  client_body_temp_path {path}/tmp/body;\n  proxy_temp_path {path}/tmp/proxy;\n  fastcgi_temp_path {path}/tmp/fastcgi;\n  uwsgi_temp_path {path}/tmp/uwsgi;\n  scgi_temp_path {path}/tmp/scgi;\n{}\n}}\n",
            if master {
                "master_process on;"
            } else {
                "# One process, so that killing it leaves nothing behind.\nmaster_process off;"
            },
            servers.replace("{dir}", &path)
        );
        let config_file = dir.path().join("nginx.conf");
        std::fs::write(&config_file, config).unwrap();
        let child = Command::new(NGINX)
            .arg("-p")
            .arg(format!("{path}/"))
            .arg("-c")
            .arg(&config_file)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx is installed (tests/run.sh installs it)");
        let mut nginx = Nginx { child, dir, master };
        for port in ports {
            let log = nginx.dir.path().join("error.log");
            let child = &mut nginx.child;
            wait_for(&format!("nginx on port {port}"), Duration::from_secs(20), || {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("nginx exited with {status}: {}", std::fs::read_to_string(&log).unwrap_or_default());
                }
                std::net::TcpStream::connect(("127.0.0.1", *port)).is_ok()
            });
        }
        nginx
    }

    /// Makes nginx read its config and certificate files again, as `nginx -s reload` does: the
    /// master starts a new worker and retires the old one.
    pub fn reload(&self) {
        assert!(self.master, "start nginx with start_reloadable to reload it");
        self.signal("HUP");
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args(["-s", signal, &self.child.id().to_string()]).status().unwrap();
        assert!(status.success(), "SIG{signal} to nginx");
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if self.master {
            // A killed master leaves its workers running; a terminated one stops them first.
            self.signal("TERM");
            let child = &mut self.child;
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while std::time::Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
