//! Decoding TOML into typed parameters, with messages that name the key and never quote the
//! file's text (a quoted line may hold a password).

/// Error messages of the TOML and config crates, said in terms of this file. The TOML crate
/// quotes the offending line under the position; that line may hold a password (a `url` with
/// `user:password@`), so the quote is dropped and the position and the problem are kept.
pub fn tidy_error(message: String) -> String {
    let message = message.replace("TOML parse error", "TOML syntax error");
    let is_quote = |line: &&str| {
        let line = line.trim_start();
        line.starts_with('|') || line.split_once(" |").is_some_and(|(number, _)| number.parse::<u64>().is_ok())
    };
    if !message.lines().any(|line| is_quote(&line)) {
        return message.trim_end().to_string();
    }
    let said: Vec<&str> = message.lines().filter(|line| !is_quote(line) && !line.trim().is_empty()).collect();
    said.join(": ")
}

/// Decodes a TOML value into `T`, naming the key a problem is at (`... for key `min_cores``).
pub fn decode_value<T: serde::de::DeserializeOwned>(value: toml::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let mut message = tidy_error(err.into_inner().to_string());
        // The toml crate adds its own, shorter "\nin `key`"; the full path replaces it.
        if let Some(own_path) = message.find("\nin `") {
            message.truncate(own_path);
        }
        if path == "." || path.is_empty() || message.contains(&format!("`{path}`")) {
            message
        } else {
            format!("{message} for key `{path}`")
        }
    })
}
