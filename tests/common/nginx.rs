//! A real nginx (Debian package) for the tests: its own config, prefix, pid file, logs and temp
//! paths under a temp dir, loopback ports only, in the foreground, killed when dropped.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::wait_for;

pub const NGINX: &str = "/usr/sbin/nginx";

pub struct Nginx {
    child: Child,
    pub dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx with `servers` (server blocks) inside its `http` block and waits until every
    /// port in `ports` accepts connections. `{dir}` in `servers` becomes the temp dir.
    pub fn start(servers: &str, ports: &[u16]) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().display().to_string();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        let config = format!(
            "worker_processes 1;\ndaemon off;\n# One process, so that killing it leaves nothing behind.\nmaster_process off;\npid {path}/nginx.pid;\nerror_log {path}/error.log warn;\nevents {{ worker_connections 256; }}\nhttp {{\n  access_log off;\n  server_tokens off;\n  client_body_temp_path {path}/tmp/body;\n  proxy_temp_path {path}/tmp/proxy;\n  fastcgi_temp_path {path}/tmp/fastcgi;\n  uwsgi_temp_path {path}/tmp/uwsgi;\n  scgi_temp_path {path}/tmp/scgi;\n{}\n}}\n",
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
        let mut nginx = Nginx { child, dir };
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
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
