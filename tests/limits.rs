//! Request limits of the HTTP server, against the real binary on 127.0.0.1:0 with raw sockets:
//! oversized heads and bodies are refused, slow and idle connections are closed, a flood of
//! connections beyond the cap does not keep a scrape out.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{item, wait_for, Daemon};

fn config() -> String {
    format!(
        "[[checks]]\nkind = \"cpu\"\nmin_cores = 1\ninterval = \"1m\"\n{}\n",
        item("infra.cpu", "critical", Some("minimum"))
    )
}

/// Sends `request` on a fresh connection and returns everything the server answers until it closes.
fn exchange(daemon: &Daemon, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(daemon.address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    if let Err(err) = stream.read_to_end(&mut answer) {
        eprintln!("reading the answer: {err}");
    }
    String::from_utf8_lossy(&answer).into_owned()
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

/// Whether the server has closed `stream` (read end of stream or reset); answers are read and dropped.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(err) if err.kind() == ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

/// Opens `count` connections that send the start of a request head and nothing more.
fn slow_connections(daemon: &Daemon, count: usize, partial: &[u8]) -> Vec<TcpStream> {
    (0..count)
        .map(|_| {
            let mut stream = TcpStream::connect(daemon.address).unwrap();
            stream.write_all(partial).unwrap();
            stream.set_nonblocking(true).unwrap();
            stream
        })
        .collect()
}

#[test]
fn a_request_head_larger_than_64_kib_is_answered_431() {
    let daemon = Daemon::start(&config());
    // Exactly the 64 KiB buffer, never finished: the server reads all of it, so no unread bytes
    // turn its close into a reset that could swallow the answer.
    let mut request = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ".to_vec();
    request.resize(64 * 1024, b'a');
    let answer = exchange(&daemon, &request);
    assert!(status_line(&answer).starts_with("HTTP/1.1 431"), "answer: {:?}", status_line(&answer));
    assert_eq!(daemon.get("/-/healthy").status(), 200, "the daemon still serves");
}

#[test]
fn a_reload_with_an_oversized_body_is_answered_413_unread_and_the_daemon_still_serves() {
    let daemon = Daemon::start(&config());
    daemon.wait_ready();
    let request =
        b"POST /-/reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 104857600\r\n\r\nfirst bytes of a body";
    let answer = exchange(&daemon, request);
    assert!(status_line(&answer).starts_with("HTTP/1.1 413"), "answer: {answer:?}");
    assert!(answer.contains("at most 65536 bytes"), "the answer says the limit: {answer:?}");
    assert!(
        !daemon.logs().iter().any(|line| line.contains("config reloaded")),
        "a refused request must not reach the handler"
    );
    assert_eq!(daemon.get("/-/healthy").status(), 200);

    // A body within the limit (our endpoints ignore it) is still accepted.
    let answer = exchange(
        &daemon,
        b"POST /-/reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    assert!(status_line(&answer).starts_with("HTTP/1.1 200"), "answer: {answer:?} logs: {:?}", daemon.logs());
}

#[test]
fn slow_clients_do_not_keep_a_scrape_out_and_are_closed_by_the_header_timeout() {
    let daemon = Daemon::start(&config());
    daemon.wait_ready();
    let mut slow = slow_connections(&daemon, 200, b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    // A trickle of bytes does not reset the timer: it bounds the whole head, not each read.
    for stream in &mut slow {
        let _ = stream.write_all(b"a");
    }

    let scrape = daemon.get("/metrics");
    assert_eq!(scrape.status(), 200);
    assert!(scrape.text().unwrap().contains("checklist_item_passing{id=\"infra.cpu\""));

    wait_for("the server to close all 200 slow connections", Duration::from_secs(120), || {
        slow.retain_mut(|stream| !closed_by_server(stream));
        slow.is_empty()
    });
    assert_eq!(daemon.get("/-/healthy").status(), 200);
}

#[test]
fn an_idle_keep_alive_connection_is_closed_by_the_server() {
    let daemon = Daemon::start(&config());
    let mut stream = TcpStream::connect(daemon.address).unwrap();
    stream.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut buffer = [0u8; 1024];
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let read = stream.read(&mut buffer).unwrap();
    assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));
    stream.set_nonblocking(true).unwrap();
    wait_for("the server to close the idle keep-alive connection", Duration::from_secs(120), || {
        closed_by_server(&mut stream)
    });
}

#[test]
fn beyond_the_connection_cap_the_oldest_silent_connections_make_room_for_a_scrape() {
    let cap = checklist_exporter::web::connections::MAX_CONNECTIONS;
    let wanted = cap + 100;
    // Whether the hard limit allows it is only known at run time: fail with the reason rather
    // than pass without testing.
    if let Err(reason) = open_files_at_least(wanted as u64 + 64) {
        panic!("this test needs {wanted} sockets open at once: {reason}");
    }
    let daemon = Daemon::start(&config());
    daemon.wait_ready();
    let mut silent = slow_connections(&daemon, wanted, b"");

    let scrape = daemon.get("/metrics");
    assert_eq!(scrape.status(), 200, "a scrape gets in while more than the cap are held open");
    wait_for("the limit warning", Duration::from_secs(30), || {
        daemon.logs().iter().any(|line| line.contains("HTTP connection limit reached"))
    });
    // The oldest connection was closed to make room; the header timeout then closes the rest.
    wait_for("the oldest silent connection to be closed", Duration::from_secs(60), || closed_by_server(&mut silent[0]));
    wait_for("every silent connection to be closed", Duration::from_secs(120), || {
        silent.retain_mut(|stream| !closed_by_server(stream));
        silent.is_empty()
    });
}

/// Raises this process's soft open-files limit to at least `wanted`, or says why it cannot.
fn open_files_at_least(wanted: u64) -> Result<(), String> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain system calls on a struct owned here.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(format!("getrlimit: {}", std::io::Error::last_os_error()));
        }
        if limit.rlim_max < wanted {
            return Err(format!("the hard open-files limit is {}; raise it (ulimit -Hn) to {wanted}", limit.rlim_max));
        }
        limit.rlim_cur = limit.rlim_cur.max(wanted);
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Err(format!("setrlimit to {wanted}: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}
