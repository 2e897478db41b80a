//! The `grade` aspect of `kind = "tls"`: a grade from A+ to F following the SSL Labs SSL Server
//! Rating Guide. Three scores (protocol support, key exchange, cipher strength) weighted 30/30/40
//! give a letter, then caps lower it for what the guide punishes whatever the score (legacy
//! protocols, no forward secrecy, RC4, 3DES, weak keys and signatures, an incomplete chain), and
//! A+ needs HSTS for at least 180 days and no warning.
//!
//! What is accepted is seen by the rustls handshake (TLS 1.2/1.3 with forward secrecy, AEAD) and
//! by hand-built ClientHellos ([`super::hello`]) offering one class of suites each: rustls
//! cannot offer SSL 3.0, TLS 1.0/1.1, RSA key exchange, RC4 or 3DES. Pure functions here; the
//! sockets are in `probe.rs`.

use std::fmt;

use serde::Deserialize;

use super::cert::KeyFacts;

/// A grade, worst first, so that `min` applies a cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grade {
    F,
    E,
    D,
    C,
    B,
    AMinus,
    A,
    APlus,
}

impl Grade {
    pub const ALL: [Grade; 8] =
        [Grade::F, Grade::E, Grade::D, Grade::C, Grade::B, Grade::AMinus, Grade::A, Grade::APlus];

    pub fn name(self) -> &'static str {
        match self {
            Grade::F => "F",
            Grade::E => "E",
            Grade::D => "D",
            Grade::C => "C",
            Grade::B => "B",
            Grade::AMinus => "A-",
            Grade::A => "A",
            Grade::APlus => "A+",
        }
    }

    /// `checklist_tls_grade`: F = 1 up to A+ = 8, so that `< 7` means "worse than A".
    pub fn gauge(self) -> f64 {
        (self as u8 + 1) as f64
    }

    pub fn parse(text: &str) -> Option<Grade> {
        Grade::ALL.into_iter().find(|grade| grade.name() == text)
    }

    /// The letter a score (0 to 100) earns before caps.
    pub fn from_score(score: u32) -> Grade {
        match score {
            80.. => Grade::A,
            65..=79 => Grade::B,
            50..=64 => Grade::C,
            35..=49 => Grade::D,
            20..=34 => Grade::E,
            _ => Grade::F,
        }
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Grade {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Grade, D::Error> {
        let text = String::deserialize(deserializer)?;
        Grade::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("`{text}` is not a grade; want one of A+, A, A-, B, C, D, E, F"))
        })
    }
}

/// The class of cipher suites one probe offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuiteClass {
    /// Key exchange with forward secrecy (ECDHE, DHE).
    ForwardSecret,
    /// AES-GCM, ChaCha20-Poly1305.
    Aead,
    /// 256-bit ciphers (AES-256, ChaCha20, Camellia-256).
    Bits256,
    /// 128-bit block ciphers (AES-128, Camellia-128).
    Bits128,
    /// 3DES: 112 bits, 64-bit blocks.
    TripleDes,
    Rc4,
    /// Under 112 bits: DES, export suites, NULL encryption, anonymous key exchange.
    Insecure,
}

impl SuiteClass {
    pub fn suites(self) -> &'static [u16] {
        match self {
            SuiteClass::ForwardSecret => &[
                0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc009, 0xc013, 0xc00a, 0xc014, 0x009e, 0x009f, 0x0033,
                0x0039, 0xc023, 0xc027, 0xc024, 0xc028, 0x0067, 0x006b,
            ],
            SuiteClass::Aead => {
                &[0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xccaa, 0x009e, 0x009f, 0x009c, 0x009d]
            }
            SuiteClass::Bits256 => &[
                0xc02c, 0xc030, 0xcca9, 0xcca8, 0xccaa, 0xc00a, 0xc014, 0xc024, 0xc028, 0x009f, 0x0039, 0x006b, 0x009d,
                0x0035, 0x003d, 0x0088, 0x0084,
            ],
            SuiteClass::Bits128 => &[
                0xc02b, 0xc02f, 0xc009, 0xc013, 0xc023, 0xc027, 0x009e, 0x0033, 0x0067, 0x009c, 0x002f, 0x003c, 0x0045,
                0x0041,
            ],
            SuiteClass::TripleDes => &[0xc008, 0xc012, 0x0016, 0x000a],
            SuiteClass::Rc4 => &[0xc007, 0xc011, 0x0005, 0x0004],
            SuiteClass::Insecure => &[
                0x0009, 0x0015, 0x0012, // DES
                0x0003, 0x0006, 0x0008, 0x0014, 0x0011, // export
                0x0018, 0x001b, 0x0034, 0x003a, 0x006c, 0x006d, 0x00a6, 0x00a7, 0xc018, 0xc019, // anonymous
                0x0001, 0x0002, 0x003b, 0xc010, 0xc006, // NULL encryption
            ],
        }
    }

    /// Every sound TLS 1.2 suite the classes name, for the probe of TLS 1.2 itself: a server
    /// with only AEAD suites refuses a hello offering only CBC ones.
    pub fn sound_tls12_suites() -> Vec<u16> {
        let mut suites = Vec::new();
        for class in [SuiteClass::Aead, SuiteClass::ForwardSecret, SuiteClass::Bits256, SuiteClass::Bits128] {
            for suite in class.suites() {
                if !suites.contains(suite) {
                    suites.push(*suite);
                }
            }
        }
        suites
    }

    pub fn name(self) -> &'static str {
        match self {
            SuiteClass::ForwardSecret => "forward-secret suites",
            SuiteClass::Aead => "AEAD suites",
            SuiteClass::Bits256 => "256-bit suites",
            SuiteClass::Bits128 => "128-bit suites",
            SuiteClass::TripleDes => "3DES suites",
            SuiteClass::Rc4 => "RC4 suites",
            SuiteClass::Insecure => "suites under 112 bits (DES, export, anonymous, NULL)",
        }
    }
}

/// What the grade is computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct GradeFacts {
    pub ssl3: bool,
    pub tls10: bool,
    pub tls11: bool,
    pub tls12: bool,
    pub tls13: bool,
    pub key: KeyFacts,
    /// The weak signature (SHA-1, MD5) of a certificate below the root, by name.
    pub weak_signature: Option<String>,
    pub chain_complete: bool,
    pub forward_secret: bool,
    pub aead: bool,
    pub bits256: bool,
    pub bits128: bool,
    pub triple_des: bool,
    pub rc4: bool,
    pub insecure: bool,
    /// The HSTS max-age the server sends on `GET /`, or why there is none.
    pub hsts: Result<u64, String>,
}

/// HSTS max-age A+ needs: 180 days, the guide's "at least six months".
pub const HSTS_MIN_AGE: u64 = 180 * 86_400;

/// A computed grade and how it came about.
#[derive(Clone, Debug, PartialEq)]
pub struct Rating {
    pub grade: Grade,
    pub score: u32,
    pub protocol: u32,
    pub key_exchange: u32,
    pub cipher: u32,
    /// The protocol versions accepted, oldest first, as the reason names them.
    pub protocols: Vec<&'static str>,
    /// Each cap that applied: the grade it allows at most, and why.
    pub caps: Vec<(Grade, String)>,
    /// What keeps an A from A+ (or lowers it to A-).
    pub notes: Vec<String>,
}

impl Rating {
    /// `A (score 93: protocol 100, key exchange 90, cipher 90); capped at B: …; not A+: …`
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{} (score {}: protocol {}, key exchange {}, cipher {}; accepts {})",
            self.grade,
            self.score,
            self.protocol,
            self.key_exchange,
            self.cipher,
            if self.protocols.is_empty() { "no version".to_string() } else { self.protocols.join(", ") }
        );
        for (cap, why) in &self.caps {
            text.push_str(&format!("; capped at {cap}: {why}"));
        }
        for note in &self.notes {
            text.push_str(&format!("; {note}"));
        }
        text
    }
}

fn protocol_points(facts: &GradeFacts) -> u32 {
    let offered = [(facts.ssl3, 80), (facts.tls10, 90), (facts.tls11, 95), (facts.tls12, 100), (facts.tls13, 100)];
    let points: Vec<u32> = offered.iter().filter(|(on, _)| *on).map(|(_, points)| *points).collect();
    match (points.iter().max(), points.iter().min()) {
        (Some(best), Some(worst)) => (best + worst) / 2,
        _ => 0,
    }
}

/// The key's strength in RSA-equivalent bits (NIST SP 800-57 for EC keys).
fn rsa_equivalent_bits(key: &KeyFacts) -> u32 {
    match key {
        KeyFacts::Rsa(bits) => *bits,
        KeyFacts::Ec(bits) if *bits >= 512 => 15_360,
        KeyFacts::Ec(bits) if *bits >= 384 => 7_680,
        KeyFacts::Ec(bits) if *bits >= 256 => 3_072,
        KeyFacts::Ec(bits) if *bits >= 224 => 2_048,
        KeyFacts::Ec(_) => 1_024,
        KeyFacts::Ed25519 => 3_072,
        KeyFacts::Other(_) => 0,
    }
}

fn key_exchange_points(key: &KeyFacts) -> u32 {
    match rsa_equivalent_bits(key) {
        0 => 0,
        1..=511 => 20,
        512..=1023 => 40,
        1024..=2047 => 80,
        2048..=4095 => 90,
        _ => 100,
    }
}

fn cipher_bits_points(bits: u32) -> u32 {
    match bits {
        0 => 0,
        1..=127 => 20,
        128..=255 => 80,
        _ => 100,
    }
}

fn cipher_points(facts: &GradeFacts) -> u32 {
    // TLS 1.3 always has TLS_AES_128_GCM_SHA256 (mandatory) and in practice AES-256.
    let bits: Vec<u32> = [
        (facts.insecure, 40),
        (facts.triple_des, 112),
        (facts.rc4 || facts.bits128 || facts.tls13, 128),
        (facts.bits256 || facts.tls13, 256),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, bits)| *bits)
    .collect();
    match (bits.iter().max(), bits.iter().min()) {
        (Some(strongest), Some(weakest)) => (cipher_bits_points(*strongest) + cipher_bits_points(*weakest)) / 2,
        _ => 0,
    }
}

/// Rates `facts` by the guide: the weighted score, then every cap, then A+ / A-.
pub fn rate(facts: &GradeFacts) -> Rating {
    let protocol = protocol_points(facts);
    let key_exchange = key_exchange_points(&facts.key);
    let cipher = cipher_points(facts);
    let score = (protocol * 30 + key_exchange * 30 + cipher * 40 + 50) / 100;
    let mut caps = Vec::new();
    let mut cap = |grade: Grade, why: String| caps.push((grade, why));
    if facts.ssl3 {
        cap(Grade::F, "the server accepts SSL 3.0".into());
    }
    let old: Vec<&str> = [(facts.tls10, "TLS 1.0"), (facts.tls11, "TLS 1.1")]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .collect();
    if !old.is_empty() {
        cap(Grade::B, format!("the server accepts {}", old.join(" and ")));
    }
    if !facts.tls12 && !facts.tls13 {
        cap(Grade::C, "the server accepts neither TLS 1.2 nor TLS 1.3".into());
    }
    if facts.insecure {
        cap(Grade::F, format!("the server accepts {}", SuiteClass::Insecure.name()));
    }
    let modern = facts.tls11 || facts.tls12 || facts.tls13;
    if facts.rc4 {
        let grade = if modern { Grade::C } else { Grade::B };
        cap(grade, "the server accepts RC4 suites".into());
    }
    if facts.triple_des && modern {
        cap(Grade::C, "the server accepts 3DES suites (64-bit blocks) with TLS 1.1 or later".into());
    }
    if !facts.forward_secret {
        cap(Grade::B, "no key exchange with forward secrecy (ECDHE or DHE) is accepted".into());
    }
    match &facts.key {
        KeyFacts::Rsa(bits) if *bits < 1024 => {
            cap(Grade::F, format!("the server's RSA key has {bits} bits, under 1024"))
        }
        KeyFacts::Rsa(bits) if *bits < 2048 => {
            cap(Grade::B, format!("the server's RSA key has {bits} bits, under 2048"))
        }
        _ => {}
    }
    if let Some(signature) = &facts.weak_signature {
        let grade = if signature.to_ascii_lowercase().contains("md5") { Grade::F } else { Grade::B };
        cap(grade, format!("a certificate below the root is signed with {signature}"));
    }
    if !facts.chain_complete {
        cap(Grade::B, "the chain is incomplete: the server does not send its intermediate".into());
    }
    let capped = caps.iter().map(|(grade, _)| *grade).min().unwrap_or(Grade::APlus);
    let mut grade = Grade::from_score(score).min(capped);
    let mut notes = Vec::new();
    if grade == Grade::A {
        let mut warnings = Vec::new();
        if !facts.aead {
            warnings.push("no AEAD suite (GCM, ChaCha20-Poly1305) is accepted");
        }
        if !warnings.is_empty() {
            grade = Grade::AMinus;
            notes.push(format!("A- for warnings: {}", warnings.join(", ")));
        } else {
            match &facts.hsts {
                Ok(age) if *age >= HSTS_MIN_AGE => grade = Grade::APlus,
                Ok(age) => notes.push(format!("not A+: HSTS max-age is {age}s, under {HSTS_MIN_AGE}s (180 days)")),
                Err(why) => notes.push(format!("not A+: {why}")),
            }
        }
    }
    let protocols = [
        (facts.ssl3, "SSL 3.0"),
        (facts.tls10, "TLS 1.0"),
        (facts.tls11, "TLS 1.1"),
        (facts.tls12, "TLS 1.2"),
        (facts.tls13, "TLS 1.3"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| *name)
    .collect();
    Rating { grade, score, protocol, key_exchange, cipher, protocols, caps, notes }
}

/// The max-age of a `Strict-Transport-Security` value, or why it has none.
pub fn hsts_max_age(value: &str) -> Result<u64, String> {
    for directive in value.split(';') {
        let directive = directive.trim();
        if let Some((name, age)) = directive.split_once('=') {
            if name.trim().eq_ignore_ascii_case("max-age") {
                let age = age.trim().trim_matches('"');
                return age
                    .parse::<u64>()
                    .map_err(|_| format!("the Strict-Transport-Security max-age `{age}` is not a number"));
            }
        }
    }
    Err(format!("the Strict-Transport-Security header `{value}` has no max-age"))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn modern() -> GradeFacts {
        GradeFacts {
            ssl3: false,
            tls10: false,
            tls11: false,
            tls12: true,
            tls13: true,
            key: KeyFacts::Ec(256),
            weak_signature: None,
            chain_complete: true,
            forward_secret: true,
            aead: true,
            bits256: true,
            bits128: true,
            triple_des: false,
            rc4: false,
            insecure: false,
            hsts: Ok(63_072_000),
        }
    }

    #[test]
    fn a_modern_server_with_long_hsts_gets_a_plus_and_its_score() {
        let rating = rate(&modern());
        assert_eq!(rating.grade, Grade::APlus);
        assert_eq!((rating.protocol, rating.key_exchange, rating.cipher, rating.score), (100, 90, 90, 93));
        assert_eq!(
            rating.describe(),
            "A+ (score 93: protocol 100, key exchange 90, cipher 90; accepts TLS 1.2, TLS 1.3)"
        );
    }

    #[test]
    fn short_or_missing_hsts_keeps_an_a() {
        let mut facts = modern();
        facts.hsts = Ok(86_400);
        let rating = rate(&facts);
        assert_eq!(rating.grade, Grade::A);
        assert_eq!(rating.notes, ["not A+: HSTS max-age is 86400s, under 15552000s (180 days)"]);
        facts.hsts = Err("no Strict-Transport-Security header on GET /".into());
        assert_eq!(rate(&facts).describe(), "A (score 93: protocol 100, key exchange 90, cipher 90; accepts TLS 1.2, TLS 1.3); not A+: no Strict-Transport-Security header on GET /");
    }

    #[test]
    fn legacy_protocols_cap_at_b_and_ssl3_fails() {
        let mut facts = modern();
        facts.tls10 = true;
        facts.tls11 = true;
        let rating = rate(&facts);
        assert_eq!(rating.grade, Grade::B);
        assert_eq!(rating.protocol, 95);
        assert_eq!(rating.caps, [(Grade::B, "the server accepts TLS 1.0 and TLS 1.1".to_string())]);
        facts.ssl3 = true;
        assert_eq!(rate(&facts).grade, Grade::F);
    }

    #[test]
    fn weak_keys_cap_at_b_or_fail() {
        let mut facts = modern();
        facts.key = KeyFacts::Rsa(1024);
        let rating = rate(&facts);
        assert_eq!(rating.grade, Grade::B);
        assert_eq!(rating.key_exchange, 80);
        assert!(rating.describe().contains("capped at B: the server's RSA key has 1024 bits, under 2048"));
        facts.key = KeyFacts::Rsa(512);
        assert_eq!(rate(&facts).grade, Grade::F);
        facts.key = KeyFacts::Rsa(2048);
        assert_eq!(rate(&facts).grade, Grade::APlus);
    }

    /// A change to the modern facts, the grade it should give, and words its reason must hold.
    type CapCase = (fn(&mut GradeFacts), Grade, &'static str);

    #[test]
    fn each_cap_names_its_cause() {
        let cases: [CapCase; 7] = [
            (|f| f.chain_complete = false, Grade::B, "the chain is incomplete"),
            (|f| f.forward_secret = false, Grade::B, "no key exchange with forward secrecy"),
            (|f| f.rc4 = true, Grade::C, "RC4"),
            (|f| f.triple_des = true, Grade::C, "3DES"),
            (|f| f.insecure = true, Grade::F, "under 112 bits"),
            (|f| f.weak_signature = Some("sha1WithRSAEncryption".into()), Grade::B, "sha1WithRSAEncryption"),
            (
                |f| {
                    f.tls12 = false;
                    f.tls13 = false;
                    f.tls10 = true;
                },
                Grade::C,
                "neither TLS 1.2 nor TLS 1.3",
            ),
        ];
        for (change, want, cause) in cases {
            let mut facts = modern();
            change(&mut facts);
            let rating = rate(&facts);
            assert_eq!(rating.grade, want, "{}", rating.describe());
            assert!(rating.describe().contains(cause), "{}", rating.describe());
        }
    }

    #[test]
    fn no_aead_is_a_minus() {
        let mut facts = modern();
        facts.tls13 = false;
        facts.aead = false;
        let rating = rate(&facts);
        assert_eq!(rating.grade, Grade::AMinus);
        assert!(rating.describe().contains("A- for warnings: no AEAD suite"), "{}", rating.describe());
    }

    #[test]
    fn grades_parse_order_and_encode() {
        assert_eq!(Grade::parse("A+"), Some(Grade::APlus));
        assert_eq!(Grade::parse("a"), None);
        assert!(Grade::APlus > Grade::A && Grade::AMinus > Grade::B && Grade::E > Grade::F);
        assert_eq!(Grade::APlus.gauge(), 8.0);
        assert_eq!(Grade::F.gauge(), 1.0);
        assert_eq!(Grade::from_score(80), Grade::A);
        assert_eq!(Grade::from_score(79), Grade::B);
        assert_eq!(Grade::from_score(19), Grade::F);
    }

    #[test]
    fn hsts_values_parse() {
        assert_eq!(hsts_max_age("max-age=31536000; includeSubDomains"), Ok(31_536_000));
        assert_eq!(hsts_max_age("includeSubDomains; Max-Age=\"100\""), Ok(100));
        assert!(hsts_max_age("includeSubDomains").unwrap_err().contains("has no max-age"));
        assert!(hsts_max_age("max-age=soon").unwrap_err().contains("`soon` is not a number"));
    }
}
