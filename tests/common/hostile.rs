//! Small servers on loopback for the cases a real server does not produce on demand: one that
//! accepts and never answers, one that answers bytes that are not HTTP, and one that answers
//! every request with the same document (a scrape target with known values, an HTML page where
//! an API was expected).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

/// A TCP server on 127.0.0.1:0 that does `behave` with each connection, in its own thread.
pub fn hostile(behave: fn(TcpStream, SocketAddr)) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64).flatten() {
            std::thread::spawn(move || behave(stream, address));
        }
    });
    address
}

pub fn read_request(stream: &mut TcpStream) {
    let mut buffer = [0u8; 4096];
    let _ = stream.read(&mut buffer);
}

pub fn silent(mut stream: TcpStream, _: SocketAddr) {
    let mut sink = [0u8; 1024];
    while stream.read(&mut sink).is_ok_and(|n| n > 0) {}
}

pub fn garbage(mut stream: TcpStream, _: SocketAddr) {
    read_request(&mut stream);
    let _ = stream.write_all(b"\x00\x17\xffgarbage that is not HTTP\r\n\r\n");
}

/// Answers every request (at most 10,000 connections) with 200 and `body` as `content_type`.
pub fn fixed_answer(content_type: &'static str, body: String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().take(10_000).flatten() {
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            read_request(&mut stream);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    address
}
