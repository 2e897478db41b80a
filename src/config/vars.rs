//! Config variables: targets set once at the top (`[vars] domain = "dnd.example.com"`) or by
//! environment variables (`CHECKLIST__VARS__DOMAIN=...`), and used in any check as `${domain}`.
//!
//! A site adapts a long checklist by changing a handful of values instead of editing every check
//! that names its domain, paths or database. Every variable must be declared in `[vars]`, so a
//! typo in a `${...}` reference or in an environment variable's name is an error at load, not a
//! check quietly pointed at the wrong target.

use std::collections::BTreeMap;

/// Environment variables with this prefix override a declared variable.
pub const ENV_VAR_PREFIX: &str = "CHECKLIST__VARS__";

/// The declared variables with their values (after environment overrides).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Vars {
    values: BTreeMap<String, toml::Value>,
}

/// A problem with a variable: where (`vars.domain`, or the environment variable's name) and why.
pub type VarError = (String, String);

impl Vars {
    /// Takes the `[vars]` table: each value a string, a boolean or a number.
    pub fn from_table(table: toml::Table) -> Result<Vars, VarError> {
        let mut values = BTreeMap::new();
        for (name, value) in table {
            let here = format!("vars.{name}");
            if !valid_name(&name) {
                return Err((here, "use lower-case letters, digits and `_` in variable names".to_string()));
            }
            match value {
                toml::Value::String(_) | toml::Value::Boolean(_) | toml::Value::Integer(_) | toml::Value::Float(_) => {
                    values.insert(name, value);
                }
                other => {
                    return Err((here, format!("must be a string, a boolean or a number, not {}", other.type_str())))
                }
            }
        }
        Ok(Vars { values })
    }

    /// Applies `CHECKLIST__VARS__NAME=value` overrides. The value is read as the declared type,
    /// so `CHECKLIST__VARS__ENABLE_AWS=yes` for a boolean is refused rather than taken as text.
    pub fn override_from_env(&mut self, env: impl IntoIterator<Item = (String, String)>) -> Result<(), VarError> {
        for (key, text) in env {
            let Some(suffix) = key.strip_prefix(ENV_VAR_PREFIX) else { continue };
            let name = suffix.to_ascii_lowercase();
            let Some(declared) = self.values.get_mut(&name) else {
                return Err((key, format!("no variable `{name}` is declared in [vars]; {}", self.declared())));
            };
            *declared = match declared {
                toml::Value::String(_) => toml::Value::String(text),
                toml::Value::Boolean(_) => match text.as_str() {
                    "true" => toml::Value::Boolean(true),
                    "false" => toml::Value::Boolean(false),
                    _ => return Err((key, format!("`{name}` is a boolean in [vars]; set it to true or false"))),
                },
                toml::Value::Integer(_) => match text.trim().parse() {
                    Ok(number) => toml::Value::Integer(number),
                    Err(_) => return Err((key, format!("`{name}` is an integer in [vars]; the value is not one"))),
                },
                _ => match text.trim().parse() {
                    Ok(number) => toml::Value::Float(number),
                    Err(_) => return Err((key, format!("`{name}` is a number in [vars]; the value is not one"))),
                },
            };
        }
        Ok(())
    }

    /// Replaces every `${name}` in the strings of `value`, recursively; `$${` is a literal `${`.
    /// A string that is exactly one reference takes the variable's own type, so
    /// `enabled = "${enable_aws}"` becomes a boolean and `min_cores = "${cores}"` a number.
    /// Messages name the reference, never a value: values may be secrets.
    pub fn expand(&self, value: &mut toml::Value) -> Result<(), String> {
        match value {
            toml::Value::String(text) if text.contains('$') => *value = self.expand_text(text)?,
            toml::Value::Array(values) => {
                for value in values {
                    self.expand(value)?;
                }
            }
            toml::Value::Table(table) => {
                for (_, value) in table.iter_mut() {
                    self.expand(value)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The name of the variable when `text` is exactly one reference (`${enable_aws}`).
    pub fn sole_reference(text: &str) -> Option<&str> {
        let name = text.strip_prefix("${")?.strip_suffix('}')?;
        valid_name(name).then_some(name)
    }

    fn expand_text(&self, text: &str) -> Result<toml::Value, String> {
        if let Some(name) = Vars::sole_reference(text) {
            return self.lookup(name).cloned();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find('$') {
            out.push_str(&rest[..start]);
            let after = &rest[start..];
            if let Some(tail) = after.strip_prefix("$${") {
                out.push_str("${");
                rest = tail;
            } else if let Some(tail) = after.strip_prefix("${") {
                let Some(end) = tail.find('}') else {
                    return Err("a `${` has no closing `}`; write `$${` for a literal `${`".to_string());
                };
                let name = &tail[..end];
                match self.lookup(name)? {
                    toml::Value::String(value) => out.push_str(value),
                    toml::Value::Boolean(value) => out.push_str(&value.to_string()),
                    toml::Value::Integer(value) => out.push_str(&value.to_string()),
                    toml::Value::Float(value) => out.push_str(&value.to_string()),
                    _ => unreachable!("from_table only keeps strings, booleans and numbers"),
                }
                rest = &tail[end + 1..];
            } else {
                out.push('$');
                rest = &after[1..];
            }
        }
        out.push_str(rest);
        Ok(toml::Value::String(out))
    }

    fn lookup(&self, name: &str) -> Result<&toml::Value, String> {
        if !valid_name(name) {
            return Err(format!(
                "`${{{name}}}` is not a variable reference; names use lower-case letters, digits and `_`"
            ));
        }
        self.values.get(name).ok_or_else(|| format!("`${{{name}}}` names no variable; {}", self.declared()))
    }

    fn declared(&self) -> String {
        if self.values.is_empty() {
            "the config has no [vars] table".to_string()
        } else {
            let names: Vec<&str> = self.values.keys().map(String::as_str).collect();
            format!("declared: {}", names.join(", "))
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(text: &str) -> Vars {
        Vars::from_table(text.parse().unwrap()).unwrap()
    }

    fn expanded(vars: &Vars, text: &str) -> Result<toml::Value, String> {
        let mut value = toml::Value::String(text.to_string());
        vars.expand(&mut value).map(|()| value)
    }

    #[test]
    fn references_inside_text_are_replaced_and_dollars_escape() {
        let vars = vars("domain = \"dnd.example.com\"\nport = 8443");
        assert_eq!(
            expanded(&vars, "https://${domain}:${port}/health").unwrap().as_str(),
            Some("https://dnd.example.com:8443/health")
        );
        assert_eq!(
            expanded(&vars, "cost $5, literal $${domain}").unwrap().as_str(),
            Some("cost $5, literal ${domain}")
        );
    }

    #[test]
    fn a_sole_reference_keeps_the_variable_type() {
        let vars = vars("enable_aws = false\ncores = 4\nratio = 0.25");
        assert_eq!(expanded(&vars, "${enable_aws}").unwrap(), toml::Value::Boolean(false));
        assert_eq!(expanded(&vars, "${cores}").unwrap(), toml::Value::Integer(4));
        assert_eq!(expanded(&vars, "${ratio}").unwrap(), toml::Value::Float(0.25));
        assert_eq!(expanded(&vars, "x${cores}").unwrap().as_str(), Some("x4"));
    }

    #[test]
    fn tables_and_arrays_are_expanded_recursively() {
        let vars = vars("dir = \"/opt/dnd\"");
        let mut value: toml::Value = toml::Value::Table(
            "paths = [\"${dir}/uploads\", \"${dir}/logs\"]\n[inner]\nroot = \"${dir}\"".parse().unwrap(),
        );
        vars.expand(&mut value).unwrap();
        assert_eq!(value["paths"][1].as_str(), Some("/opt/dnd/logs"));
        assert_eq!(value["inner"]["root"].as_str(), Some("/opt/dnd"));
    }

    #[test]
    fn unknown_and_unterminated_references_are_refused_by_name() {
        let vars = vars("domain = \"a\"");
        assert_eq!(expanded(&vars, "${domian}").unwrap_err(), "`${domian}` names no variable; declared: domain");
        assert_eq!(
            expanded(&vars, "https://${domain").unwrap_err(),
            "a `${` has no closing `}`; write `$${` for a literal `${`"
        );
        assert_eq!(
            expanded(&Vars::default(), "${x}").unwrap_err(),
            "`${x}` names no variable; the config has no [vars] table"
        );
    }

    #[test]
    fn environment_overrides_take_the_declared_type() {
        let mut vars = vars("domain = \"a\"\nenable_aws = false\ncores = 2");
        let env = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        vars.override_from_env(env("CHECKLIST__VARS__DOMAIN", "dnd.example.com")).unwrap();
        vars.override_from_env(env("CHECKLIST__VARS__ENABLE_AWS", "true")).unwrap();
        vars.override_from_env(env("CHECKLIST__VARS__CORES", "8")).unwrap();
        assert_eq!(expanded(&vars, "${domain}").unwrap().as_str(), Some("dnd.example.com"));
        assert_eq!(expanded(&vars, "${enable_aws}").unwrap(), toml::Value::Boolean(true));
        assert_eq!(expanded(&vars, "${cores}").unwrap(), toml::Value::Integer(8));
        assert_eq!(
            vars.override_from_env(env("CHECKLIST__VARS__ENABLE_AWS", "yes")).unwrap_err(),
            (
                "CHECKLIST__VARS__ENABLE_AWS".to_string(),
                "`enable_aws` is a boolean in [vars]; set it to true or false".to_string()
            )
        );
        assert_eq!(
            vars.override_from_env(env("CHECKLIST__VARS__DOMIAN", "x")).unwrap_err().1,
            "no variable `domian` is declared in [vars]; declared: cores, domain, enable_aws"
        );
    }

    #[test]
    fn declared_values_must_be_scalars_with_plain_names() {
        let err = Vars::from_table("paths = [\"a\"]".parse().unwrap()).unwrap_err();
        assert_eq!(err, ("vars.paths".to_string(), "must be a string, a boolean or a number, not array".to_string()));
        let err = Vars::from_table("Domain = \"a\"".parse().unwrap()).unwrap_err();
        assert_eq!(err.0, "vars.Domain");
    }
}
