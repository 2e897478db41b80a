//! Legacy protocol probing without a legacy TLS library: rustls cannot speak TLS 1.0 or 1.1, so
//! the TLS check sends a hand-built ClientHello for the old version and classifies the first
//! record the server answers with. Pure functions over bytes; the socket work is in `probe.rs`.
//!
//! Only the first record matters: a server that accepts the version answers with a ServerHello
//! for that version; one that refuses sends an alert or closes the connection. Anything else
//! (an HTTP error page, random bytes) means the port does not speak TLS at all.

/// A record-layer protocol version as it appears on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegacyVersion {
    /// Probed only by the `grade` aspect: OpenSSL builds without it, but an old server may not.
    Ssl30,
    Tls10,
    Tls11,
    /// Probed only by the `grade` aspect, for the cipher classes a TLS 1.2 server accepts.
    Tls12,
}

impl LegacyVersion {
    /// The versions `legacy_refused` judges.
    pub const ALL: [LegacyVersion; 2] = [LegacyVersion::Tls10, LegacyVersion::Tls11];

    pub fn wire(self) -> [u8; 2] {
        match self {
            LegacyVersion::Ssl30 => [3, 0],
            LegacyVersion::Tls10 => [3, 1],
            LegacyVersion::Tls11 => [3, 2],
            LegacyVersion::Tls12 => [3, 3],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LegacyVersion::Ssl30 => "SSL 3.0",
            LegacyVersion::Tls10 => "TLS 1.0",
            LegacyVersion::Tls11 => "TLS 1.1",
            LegacyVersion::Tls12 => "TLS 1.2",
        }
    }
}

/// Cipher suites a TLS 1.0/1.1 server would pick from: ECDHE and plain RSA with AES-CBC and 3DES,
/// so that any server that still allows the version finds one it can use.
const LEGACY_SUITES: &[u16] = &[
    0xc00a, // ECDHE_ECDSA_WITH_AES_256_CBC_SHA
    0xc009, // ECDHE_ECDSA_WITH_AES_128_CBC_SHA
    0xc014, // ECDHE_RSA_WITH_AES_256_CBC_SHA
    0xc013, // ECDHE_RSA_WITH_AES_128_CBC_SHA
    0x0039, // DHE_RSA_WITH_AES_256_CBC_SHA
    0x0033, // DHE_RSA_WITH_AES_128_CBC_SHA
    0x0035, // RSA_WITH_AES_256_CBC_SHA
    0x002f, // RSA_WITH_AES_128_CBC_SHA
    0x000a, // RSA_WITH_3DES_EDE_CBC_SHA
    0x00ff, // EMPTY_RENEGOTIATION_INFO_SCSV
];

/// A ClientHello for `version` with SNI `server_name` (omitted for IP addresses, as clients do).
/// `random` is the 32-byte client random; the caller supplies it so that tests are exact.
pub fn client_hello(version: LegacyVersion, server_name: Option<&str>, random: [u8; 32]) -> Vec<u8> {
    client_hello_offering(version, LEGACY_SUITES, server_name, random)
}

/// A ClientHello for `version` offering only `suites` (the `grade` aspect's cipher-class probes:
/// the server accepts the class when it answers with a ServerHello for the version).
pub fn client_hello_offering(
    version: LegacyVersion,
    suites: &[u16],
    server_name: Option<&str>,
    random: [u8; 32],
) -> Vec<u8> {
    let mut extensions = Vec::new();
    if let Some(name) = server_name.filter(|n| !n.is_empty() && n.len() < 256) {
        let name = name.as_bytes();
        let mut list = vec![0u8]; // host_name
        push_u16(&mut list, name.len());
        list.extend_from_slice(name);
        let mut body = Vec::new();
        push_u16(&mut body, list.len());
        body.extend_from_slice(&list);
        push_extension(&mut extensions, 0x0000, &body);
    }
    // supported_groups: x25519, secp256r1, secp384r1
    push_extension(&mut extensions, 0x000a, &[0, 6, 0, 0x1d, 0, 0x17, 0, 0x18]);
    // ec_point_formats: uncompressed
    push_extension(&mut extensions, 0x000b, &[1, 0]);
    if version == LegacyVersion::Tls12 {
        // signature_algorithms: without it a TLS 1.2 server assumes SHA-1, which OpenSSL 3
        // refuses at its default security level. ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256,
        // rsa_pkcs1_sha256, ecdsa_secp384r1_sha384, rsa_pkcs1_sha384, rsa_pkcs1_sha512, rsa_pkcs1_sha1.
        push_extension(&mut extensions, 0x000d, &[0, 14, 4, 3, 8, 4, 4, 1, 5, 3, 5, 1, 6, 1, 2, 1]);
    }

    let mut hello = Vec::new();
    hello.extend_from_slice(&version.wire());
    hello.extend_from_slice(&random);
    hello.push(0); // no session id
    push_u16(&mut hello, suites.len() * 2);
    for suite in suites {
        hello.extend_from_slice(&suite.to_be_bytes());
    }
    hello.extend_from_slice(&[1, 0]); // compression: null only
    push_u16(&mut hello, extensions.len());
    hello.extend_from_slice(&extensions);

    let mut handshake = vec![1u8]; // client_hello
    handshake.extend_from_slice(&(hello.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&hello);

    // The record layer says TLS 1.0 whatever the offered version, as real clients do, so that
    // old servers do not drop the hello on the record version alone.
    let mut record = vec![22u8, 3, 1];
    push_u16(&mut record, handshake.len());
    record.extend_from_slice(&handshake);
    record
}

fn push_u16(out: &mut Vec<u8>, value: usize) {
    out.extend_from_slice(&(value as u16).to_be_bytes());
}

fn push_extension(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    push_u16(out, body.len());
    out.extend_from_slice(body);
}

/// What the server's first bytes say about the offered version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelloAnswer {
    /// A ServerHello choosing the offered version.
    Accepted,
    /// An alert, a ServerHello for some other version, or a closed connection.
    Refused(String),
    /// Not TLS at all.
    NotTls(String),
    /// Too few bytes to decide yet; read more.
    Incomplete,
}

/// Bytes needed to decide: a record header (5) and the handshake header plus version (6).
pub const DECIDING_BYTES: usize = 11;

/// Classifies the first bytes of the server's answer to a ClientHello for `version`. An empty
/// `bytes` with `closed` is a server that hung up on the hello.
pub fn classify(version: LegacyVersion, bytes: &[u8], closed: bool) -> HelloAnswer {
    if bytes.is_empty() {
        return if closed {
            HelloAnswer::Refused("the server closed the connection".into())
        } else {
            HelloAnswer::Incomplete
        };
    }
    let content_type = bytes[0];
    let record_ok = bytes.len() < 2 || bytes[1] == 3;
    match content_type {
        21 if record_ok => {
            // Alert: level, description
            if bytes.len() >= 7 {
                HelloAnswer::Refused(format!("the server answered with alert {}", alert_name(bytes[6])))
            } else if closed {
                HelloAnswer::Refused("the server answered with a truncated alert".into())
            } else {
                HelloAnswer::Incomplete
            }
        }
        22 if record_ok => {
            if bytes.len() < DECIDING_BYTES {
                return if closed {
                    HelloAnswer::Refused("the server closed the connection mid-handshake".into())
                } else {
                    HelloAnswer::Incomplete
                };
            }
            if bytes[5] != 2 {
                return HelloAnswer::NotTls(format!("handshake message {} instead of a ServerHello", bytes[5]));
            }
            let chosen = [bytes[9], bytes[10]];
            if chosen == version.wire() {
                HelloAnswer::Accepted
            } else {
                HelloAnswer::Refused(format!("the server chose version {}.{} instead", chosen[0], chosen[1]))
            }
        }
        _ => {
            let printable: String = bytes
                .iter()
                .take(16)
                .map(|b| if b.is_ascii_graphic() || *b == b' ' { *b as char } else { '.' })
                .collect();
            HelloAnswer::NotTls(format!("the answer does not start with a TLS record (`{printable}`)"))
        }
    }
}

fn alert_name(description: u8) -> String {
    match description {
        40 => "handshake_failure".into(),
        47 => "illegal_parameter".into(),
        50 => "decode_error".into(),
        70 => "protocol_version".into(),
        71 => "insufficient_security".into(),
        80 => "internal_error".into(),
        112 => "unrecognized_name".into(),
        other => format!("#{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hello_is_a_well_formed_record_for_the_version() {
        let hello = client_hello(LegacyVersion::Tls11, Some("app.example.test"), [7; 32]);
        assert_eq!(&hello[..3], &[22, 3, 1]);
        let record_length = u16::from_be_bytes([hello[3], hello[4]]) as usize;
        assert_eq!(record_length, hello.len() - 5);
        assert_eq!(hello[5], 1, "client_hello");
        let handshake_length = u32::from_be_bytes([0, hello[6], hello[7], hello[8]]) as usize;
        assert_eq!(handshake_length, hello.len() - 9);
        assert_eq!(&hello[9..11], &[3, 2], "offers TLS 1.1");
        assert_eq!(&hello[11..43], &[7; 32]);
        let sni = b"app.example.test";
        assert!(hello.windows(sni.len()).any(|w| w == sni));
    }

    #[test]
    fn ip_targets_send_no_sni() {
        let hello = client_hello(LegacyVersion::Tls10, None, [0; 32]);
        let with = client_hello(LegacyVersion::Tls10, Some("a.test"), [0; 32]);
        assert!(hello.len() < with.len());
        assert_eq!(&hello[9..11], &[3, 1]);
    }

    fn server_hello(version: [u8; 2]) -> Vec<u8> {
        vec![22, 3, 1, 0, 42, 2, 0, 0, 38, version[0], version[1], 0, 0]
    }

    #[test]
    fn a_server_hello_for_the_offered_version_is_acceptance() {
        assert_eq!(classify(LegacyVersion::Tls10, &server_hello([3, 1]), false), HelloAnswer::Accepted);
        assert_eq!(classify(LegacyVersion::Tls11, &server_hello([3, 2]), false), HelloAnswer::Accepted);
    }

    #[test]
    fn alerts_closes_and_other_versions_are_refusals() {
        assert_eq!(
            classify(LegacyVersion::Tls10, &[21, 3, 1, 0, 2, 2, 70], false),
            HelloAnswer::Refused("the server answered with alert protocol_version".into())
        );
        assert_eq!(
            classify(LegacyVersion::Tls10, &[], true),
            HelloAnswer::Refused("the server closed the connection".into())
        );
        assert_eq!(
            classify(LegacyVersion::Tls11, &server_hello([3, 3]), false),
            HelloAnswer::Refused("the server chose version 3.3 instead".into())
        );
    }

    #[test]
    fn partial_answers_ask_for_more_bytes() {
        assert_eq!(classify(LegacyVersion::Tls10, &[22, 3, 1], false), HelloAnswer::Incomplete);
        assert_eq!(classify(LegacyVersion::Tls10, &[21, 3], false), HelloAnswer::Incomplete);
        assert_eq!(classify(LegacyVersion::Tls10, &[], false), HelloAnswer::Incomplete);
    }

    #[test]
    fn plain_http_is_not_tls() {
        let answer = classify(LegacyVersion::Tls10, b"HTTP/1.1 400 Bad Request\r\n", true);
        assert_eq!(
            answer,
            HelloAnswer::NotTls("the answer does not start with a TLS record (`HTTP/1.1 400 Bad`)".into())
        );
    }
}
