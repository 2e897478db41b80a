//! Config variables: targets set once at the top (`[vars] domain = "dnd.example.com"`) or by
//! environment variables (`CHECKLIST__VARS__DOMAIN=...`), and used in any check as `${domain}`.
//!
//! A site adapts a long checklist by changing a handful of values instead of editing every check
//! that names its domain, paths or database. Every variable a check uses must be declared in
//! `[vars]`, so a typo in a `${...}` reference is an error at load, not a check quietly pointed at
//! the wrong target. An environment variable naming no declared variable is only a warning: one
//! environment often serves several configs, and a variable one of them declares must not stop
//! the others from loading.
//!
//! A variable may use others (`env_file = "${app_root}/config/.env"`); they are resolved after
//! the environment's overrides, so overriding `app_root` moves every path built on it. A cycle is
//! refused with its chain (`a -> b -> a`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Environment variables with this prefix override a declared variable.
pub const ENV_VAR_PREFIX: &str = "CHECKLIST__VARS__";

/// The declared variables with their values (after environment overrides).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Vars {
    values: BTreeMap<String, toml::Value>,
    /// How a variable that uses others was written (`${app_root}/config/.env`), to explain where
    /// a value a check refuses came from.
    written: BTreeMap<String, String>,
    /// Environment variables with the prefix that name no declared variable.
    warnings: Vec<String>,
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
        Ok(Vars { values, ..Vars::default() })
    }

    /// Applies `CHECKLIST__VARS__NAME=value` overrides. The value is read as the declared type,
    /// so `CHECKLIST__VARS__ENABLE_AWS=yes` for a boolean is refused rather than taken as text.
    /// A name no variable is declared under is kept as a warning (see [`Vars::warnings`]).
    pub fn override_from_env(&mut self, env: impl IntoIterator<Item = (String, String)>) -> Result<(), VarError> {
        let mut env: Vec<(String, String)> = env.into_iter().collect();
        // Sorted, so the warnings come in the same order on every load.
        env.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (key, text) in env {
            let Some(suffix) = key.strip_prefix(ENV_VAR_PREFIX) else { continue };
            let name = suffix.to_ascii_lowercase();
            let Some(declared) = self.values.get_mut(&name) else {
                let warning =
                    format!("{key} is ignored: no variable `{name}` is declared in [vars]; {}", self.declared());
                self.warnings.push(warning);
                continue;
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

    /// The variables of each environment a config declares (`[environments.NAME.vars]`): these
    /// values over a copy of the declared ones, not resolved yet (so that an environment's
    /// `app_root` moves the paths built on it). An environment may only set variables `[vars]`
    /// declares, with the declared type: a typo must not silently leave one environment on
    /// another's target. Names are label values: lower-case letters, digits, `_` and `-`.
    pub fn environments(&self, tables: toml::Table) -> Result<Vec<(Arc<str>, Vars)>, VarError> {
        if tables.is_empty() {
            return Err((
                "environments".to_string(),
                "declares no environment; add [environments.NAME] tables or remove [environments]".to_string(),
            ));
        }
        let mut environments = Vec::with_capacity(tables.len());
        for (name, table) in tables {
            let here = format!("environments.{name}");
            if !valid_environment_name(&name) {
                return Err((
                    format!("environments.\"{name}\""),
                    "an environment name is a label value: 1 to 64 lower-case letters, digits, `_` and `-`, starting with a letter or digit".to_string(),
                ));
            }
            let toml::Value::Table(mut table) = table else {
                return Err((here, "must be a table ([environments.NAME])".to_string()));
            };
            let values = match table.remove("vars") {
                None => toml::Table::new(),
                Some(toml::Value::Table(values)) => values,
                Some(_) => {
                    return Err((format!("{here}.vars"), "must be a table ([environments.NAME.vars])".to_string()))
                }
            };
            if let Some(key) = table.keys().next() {
                return Err((format!("{here}.{key}"), "unknown key; an environment has only `vars`".to_string()));
            }
            let mut vars = self.clone();
            for (var, value) in values {
                let at = format!("{here}.vars.{var}");
                let Some(declared) = vars.values.get_mut(&var) else {
                    return Err((at, format!("`{var}` is not declared in [vars]; {}", self.declared())));
                };
                if std::mem::discriminant(declared) != std::mem::discriminant(&value) {
                    return Err((
                        at,
                        format!("`{var}` is declared in [vars] as {}, not {}", declared.type_str(), value.type_str()),
                    ));
                }
                *declared = value;
            }
            environments.push((Arc::from(name.as_str()), vars));
        }
        Ok(environments)
    }

    /// What the load noticed but did not refuse: environment variables naming no declared variable.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Resolves the variables that use others, each after those it uses, so a value never keeps a
    /// `${...}` for a check to trip on. Call it after [`Vars::override_from_env`].
    pub fn resolve(&mut self) -> Result<(), VarError> {
        let names: Vec<String> = self.values.keys().cloned().collect();
        let mut done = BTreeSet::new();
        for name in names {
            self.resolve_one(&name, &mut Vec::new(), &mut done)?;
        }
        Ok(())
    }

    fn resolve_one(
        &mut self,
        name: &str,
        chain: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Result<(), VarError> {
        if done.contains(name) {
            return Ok(());
        }
        if let Some(start) = chain.iter().position(|earlier| earlier == name) {
            let mut cycle: Vec<&str> = chain[start..].iter().map(String::as_str).collect();
            cycle.push(name);
            return Err((
                format!("vars.{}", chain[start]),
                format!("variables refer to each other in a circle: {}", cycle.join(" -> ")),
            ));
        }
        let text = match &self.values[name] {
            toml::Value::String(text) if text.contains('$') => text.clone(),
            _ => {
                done.insert(name.to_string());
                return Ok(());
            }
        };
        chain.push(name.to_string());
        for used in references(&text) {
            if !self.values.contains_key(used) {
                let reason = self.lookup(used).err().unwrap_or_default();
                return Err((format!("vars.{name}"), reason));
            }
            self.resolve_one(used, chain, done)?;
        }
        chain.pop();
        let value = self.expand_text(&text).map_err(|reason| (format!("vars.{name}"), reason))?;
        self.values.insert(name.to_string(), value);
        self.written.insert(name.to_string(), text);
        done.insert(name.to_string());
        Ok(())
    }

    /// Where a check's value came from, for a message that refuses it: `written` is the value as
    /// the config wrote it (`${env_file}`). Empty when it uses no variable. It shows values, so
    /// call it only for a refusal that quotes the value anyway (a path that is not absolute).
    pub fn explain(&self, written: &str) -> String {
        let mut steps = Vec::new();
        let mut seen = BTreeSet::new();
        let mut pending: Vec<&str> = references(written);
        while let Some(name) = pending.pop() {
            if !seen.insert(name) {
                continue;
            }
            let Some(toml::Value::String(value)) = self.values.get(name) else { continue };
            match self.written.get(name) {
                Some(text) => {
                    steps.push(format!("vars.{name} = \"{text}\" = \"{value}\""));
                    pending.extend(references(text).into_iter().rev());
                }
                None => steps.push(format!("vars.{name} = \"{value}\"")),
            }
        }
        if steps.is_empty() {
            String::new()
        } else {
            format!(" (written \"{written}\"; {})", steps.join(", "))
        }
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

/// The names `text` refers to with `${name}`, in order (`$${` is a literal, not a reference).
fn references(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        let after = &rest[start..];
        if let Some(tail) = after.strip_prefix("$${") {
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(end) = tail.find('}') else { break };
            names.push(&tail[..end]);
            rest = &tail[end + 1..];
        } else {
            rest = &after[1..];
        }
    }
    names
}

fn valid_environment_name(name: &str) -> bool {
    name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
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
        vars.override_from_env(env("CHECKLIST__VARS__DOMIAN", "x")).unwrap();
        assert_eq!(
            vars.warnings(),
            ["CHECKLIST__VARS__DOMIAN is ignored: no variable `domian` is declared in [vars]; declared: cores, domain, enable_aws"]
        );
        assert_eq!(expanded(&vars, "${domain}").unwrap().as_str(), Some("dnd.example.com"));
    }

    #[test]
    fn variables_use_others_in_dependency_order_after_overrides() {
        // Declared in an order where a user comes before what it uses.
        let mut vars = vars(
            "a_env = \"${app_root}/config/.env\"\napp_root = \"${base}/dndstory\"\nbase = \"/opt\"\nport = 8443\ntls_port = \"${port}\"\nliteral = \"$${base}\"",
        );
        vars.override_from_env(vec![("CHECKLIST__VARS__BASE".to_string(), "/srv".to_string())]).unwrap();
        vars.resolve().unwrap();
        assert_eq!(expanded(&vars, "${a_env}").unwrap().as_str(), Some("/srv/dndstory/config/.env"));
        assert_eq!(expanded(&vars, "${tls_port}").unwrap(), toml::Value::Integer(8443));
        assert_eq!(expanded(&vars, "${literal}").unwrap().as_str(), Some("${base}"));
    }

    #[test]
    fn a_circle_of_variables_is_refused_with_its_chain() {
        let mut vars = vars("a = \"${b}/x\"\nb = \"${c}\"\nc = \"/y/${a}\"\nd = \"${d}\"");
        assert_eq!(
            vars.resolve().unwrap_err(),
            ("vars.a".to_string(), "variables refer to each other in a circle: a -> b -> c -> a".to_string())
        );
        let mut selfish = Vars::from_table("d = \"${d}\"".parse().unwrap()).unwrap();
        assert_eq!(selfish.resolve().unwrap_err().1, "variables refer to each other in a circle: d -> d");
        let mut unknown = Vars::from_table("a = \"${nope}/x\"".parse().unwrap()).unwrap();
        assert_eq!(
            unknown.resolve().unwrap_err(),
            ("vars.a".to_string(), "`${nope}` names no variable; declared: a".to_string())
        );
    }

    #[test]
    fn a_value_is_explained_by_the_variables_it_came_from() {
        let mut vars = vars("app_root = \"opt/dnd\"\nenv_file = \"${app_root}/config/.env\"");
        vars.resolve().unwrap();
        assert_eq!(
            vars.explain("${env_file}"),
            " (written \"${env_file}\"; vars.env_file = \"${app_root}/config/.env\" = \"opt/dnd/config/.env\", vars.app_root = \"opt/dnd\")"
        );
        assert_eq!(vars.explain("/plain"), "");
    }

    #[test]
    fn declared_values_must_be_scalars_with_plain_names() {
        let err = Vars::from_table("paths = [\"a\"]".parse().unwrap()).unwrap_err();
        assert_eq!(err, ("vars.paths".to_string(), "must be a string, a boolean or a number, not array".to_string()));
        let err = Vars::from_table("Domain = \"a\"".parse().unwrap()).unwrap_err();
        assert_eq!(err.0, "vars.Domain");
    }
}
