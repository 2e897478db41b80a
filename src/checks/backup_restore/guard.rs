//! The guard between a plain dump and psql: a streaming lexer that tracks what psql's own lexer
//! tracks (quotes, dollar quotes, comments, parentheses, `BEGIN ATOMIC` bodies, statement ends,
//! COPY data) and refuses every unquoted backslash, i.e. every psql meta-command (`\!`, `\o |cmd`,
//! `\copy ... program`, `\connect`), wherever it stands on a line. pg_dump writes none but its
//! own `\restrict KEY` / `\unrestrict KEY` lines. Memory is bounded whatever the line lengths.

/// Bytes of a refused meta-command line kept to decide on it and to show it.
const META_LINE: usize = 200;
/// psql accepts any dollar-quote tag; pg_dump's are a few bytes, PostgreSQL's names at most 63.
const MAX_TAG: usize = 63;
/// Bytes of a word kept to recognise `copy`, `from`, `stdin`, `begin`, `case`, `end`.
const WORD: usize = 8;

#[derive(Debug, Default)]
enum Lex {
    /// SQL outside any quote or comment.
    #[default]
    Code,
    /// '…': `escapes` for E'…' (backslash escapes); `closing` after a `'` that may be the first of `''`.
    Quoted {
        escapes: bool,
        backslash: bool,
        closing: bool,
    },
    /// "…"; `closing` after a `"` that may be the first of `""`.
    Identifier {
        closing: bool,
    },
    /// After a `$` that may open a dollar quote: the tag read so far.
    DollarTag(Vec<u8>),
    /// Inside $tag$…$tag$: the delimiter and the last bytes seen.
    Dollar {
        delimiter: Vec<u8>,
        tail: Vec<u8>,
    },
    LineComment,
    BlockComment {
        depth: u32,
        last: u8,
    },
    /// A backslash outside quotes: the line from it, decided at its end (whether it began its
    /// line stays in `at_line_start`, which a meta line does not clear).
    Meta {
        line: Vec<u8>,
    },
    /// The rest of the line after `COPY … FROM stdin;`: psql runs it after the data, so it must be empty.
    AfterCopy,
    /// COPY data lines up to `\.`: the first bytes of the current line.
    CopyData {
        head: Vec<u8>,
        long: bool,
    },
}

/// A token of the current statement, as far as the COPY decision needs it.
#[derive(Clone, Debug, PartialEq)]
enum Token {
    /// An unquoted word, lowercased, its first [`WORD`] bytes plus one to tell longer words apart.
    Word(Vec<u8>),
    Other,
}

/// Watches the plain SQL handed to psql and refuses what could leave the scratch database or run
/// a program: psql meta-commands anywhere outside quotes, comments and COPY data, a COPY other
/// than `COPY … FROM stdin`, text after it on its line, and strings that psql would read
/// differently with `standard_conforming_strings` off.
#[derive(Debug)]
pub struct MetaCommandGuard {
    lex: Lex,
    line_number: u64,
    at_line_start: bool,
    /// The word being read (identifier or number) and whether it is an identifier.
    word: Option<(Vec<u8>, bool)>,
    /// The last byte read in [`Lex::Code`], for `--`, `/*`.
    last: u8,
    paren_depth: u32,
    /// psql's heuristic for `CREATE FUNCTION … BEGIN ATOMIC … END`: semicolons inside do not end the statement.
    begin_depth: u32,
    statement_words: [u8; 4],
    statement_word_count: usize,
    first: Option<Token>,
    last_two: [Option<Token>; 2],
    /// The tokens before the last `-` or `/`, in case it starts a comment.
    before_operator: Option<(Option<Token>, [Option<Token>; 2])>,
}

impl Default for MetaCommandGuard {
    fn default() -> Self {
        MetaCommandGuard {
            lex: Lex::Code,
            line_number: 1,
            at_line_start: true,
            word: None,
            last: 0,
            paren_depth: 0,
            begin_depth: 0,
            statement_words: [0; 4],
            statement_word_count: 0,
            first: None,
            last_two: [None, None],
            before_operator: None,
        }
    }
}

fn is_ident_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_' || byte >= 0x80
}

fn is_ident_cont(byte: u8) -> bool {
    is_ident_start(byte) || byte.is_ascii_digit() || byte == b'$'
}

fn refusal(line_number: u64, line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let command = text.split_whitespace().next().unwrap_or("\\");
    format!("line {line_number}: `{}` is a psql meta-command", crate::support::text::excerpt(command, 40))
}

fn is_restrict_line(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let key = line.strip_prefix(b"\\restrict ").or_else(|| line.strip_prefix(b"\\unrestrict "));
    key.is_some_and(|key| !key.is_empty() && key.iter().all(u8::is_ascii_alphanumeric))
}

impl MetaCommandGuard {
    /// Feeds the next bytes of the stream; what was refused and where, once something is.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        for &byte in chunk {
            self.byte(byte)?;
        }
        Ok(())
    }

    /// The end of the stream: psql runs a last line without a newline too.
    pub fn finish(&mut self) -> Result<(), String> {
        match &self.lex {
            Lex::Meta { line } if !(self.at_line_start && is_restrict_line(line)) => {
                Err(refusal(self.line_number, line))
            }
            _ => Ok(()),
        }
    }

    fn byte(&mut self, byte: u8) -> Result<(), String> {
        match &mut self.lex {
            Lex::Code => self.code(byte)?,
            Lex::Quoted { escapes, backslash, closing } => {
                if *closing {
                    if byte == b'\'' {
                        *closing = false;
                    } else {
                        self.lex = Lex::Code;
                        self.last = 0;
                        return self.byte(byte);
                    }
                } else if *escapes {
                    // E'…': a backslash escapes the next byte, whatever it is.
                    if *backslash {
                        *backslash = false;
                    } else if byte == b'\\' {
                        *backslash = true;
                    } else if byte == b'\'' {
                        *closing = true;
                    }
                } else if byte == b'\\' {
                    *backslash = !*backslash;
                } else {
                    if byte == b'\'' {
                        if *backslash {
                            // With standard_conforming_strings off psql reads `\'` as a quote inside
                            // the string; the server's setting can change mid-dump, so refuse both readings.
                            return Err(format!(
                                "line {}: a backslash before a quote in a '…' string, which psql reads \
                                 differently with standard_conforming_strings off",
                                self.line_number
                            ));
                        }
                        *closing = true;
                    }
                    *backslash = false;
                }
            }
            Lex::Identifier { closing } => {
                if *closing {
                    if byte == b'"' {
                        *closing = false;
                    } else {
                        self.lex = Lex::Code;
                        self.last = 0;
                        return self.byte(byte);
                    }
                } else if byte == b'"' {
                    *closing = true;
                }
            }
            Lex::DollarTag(tag) => {
                if byte == b'$' {
                    let mut delimiter = vec![b'$'];
                    delimiter.extend_from_slice(tag);
                    delimiter.push(b'$');
                    self.lex = Lex::Dollar { delimiter, tail: Vec::new() };
                } else if is_ident_start(byte) || (!tag.is_empty() && byte.is_ascii_digit()) {
                    if tag.len() == MAX_TAG {
                        return Err(format!(
                            "line {}: a dollar-quote tag longer than {MAX_TAG} bytes",
                            self.line_number
                        ));
                    }
                    tag.push(byte);
                } else {
                    // Not a dollar quote (`$1`, `$abc `): psql rescans what followed the `$` as a word.
                    let tag = std::mem::take(tag);
                    self.lex = Lex::Code;
                    self.last = 0;
                    self.push_token(Token::Other);
                    if !tag.is_empty() {
                        self.word = Some((tag.to_ascii_lowercase().into_iter().take(WORD + 1).collect(), true));
                    }
                    return self.byte(byte);
                }
            }
            Lex::Dollar { delimiter, tail } => {
                if tail.len() == delimiter.len() {
                    tail.remove(0);
                }
                tail.push(byte);
                if byte == b'$' && tail == delimiter {
                    self.lex = Lex::Code;
                    self.last = 0;
                }
            }
            Lex::LineComment => {
                if byte == b'\n' {
                    self.lex = Lex::Code;
                    self.last = 0;
                }
            }
            Lex::BlockComment { depth, last } => {
                if *last == b'/' && byte == b'*' {
                    *depth += 1;
                    *last = 0;
                } else if *last == b'*' && byte == b'/' {
                    *depth -= 1;
                    *last = 0;
                    if *depth == 0 {
                        self.lex = Lex::Code;
                        self.last = 0;
                    }
                } else {
                    *last = byte;
                }
            }
            Lex::Meta { line } => {
                if byte == b'\n' {
                    if self.at_line_start && is_restrict_line(line) {
                        self.lex = Lex::Code;
                        self.last = 0;
                    } else {
                        return Err(refusal(self.line_number, line));
                    }
                } else if line.len() < META_LINE {
                    line.push(byte);
                } else {
                    return Err(refusal(self.line_number, line));
                }
            }
            Lex::AfterCopy => {
                if byte == b'\n' {
                    self.lex = Lex::CopyData { head: Vec::new(), long: false };
                } else if !matches!(byte, b' ' | b'\t' | b'\r') {
                    return Err(format!(
                        "line {}: text after `COPY … FROM stdin;` on its line, which psql would run after the data",
                        self.line_number
                    ));
                }
            }
            Lex::CopyData { head, long } => {
                if byte == b'\n' {
                    if !*long && (head == b"\\." || head == b"\\.\r") {
                        self.lex = Lex::Code;
                        self.last = 0;
                    } else {
                        head.clear();
                        *long = false;
                    }
                } else if head.len() < 3 {
                    head.push(byte);
                } else {
                    *long = true;
                }
            }
        }
        if byte == b'\n' {
            self.line_number += 1;
            self.at_line_start = true;
        } else if !matches!(self.lex, Lex::Meta { .. }) {
            self.at_line_start = false;
        }
        Ok(())
    }

    fn code(&mut self, byte: u8) -> Result<(), String> {
        if let Some((word, ident)) = &mut self.word {
            if is_ident_cont(byte) && (*ident || byte != b'$') {
                if word.len() <= WORD {
                    word.push(byte.to_ascii_lowercase());
                }
                return Ok(());
            }
            // `e'…'`: an escape string.
            if byte == b'\'' && *ident && word == b"e" {
                self.word = None;
                self.push_token(Token::Other);
                self.lex = Lex::Quoted { escapes: true, backslash: false, closing: false };
                return Ok(());
            }
            self.end_word();
        } else if is_ident_start(byte) || byte.is_ascii_digit() {
            self.word = Some((vec![byte.to_ascii_lowercase()], is_ident_start(byte)));
            self.last = 0;
            return Ok(());
        }
        let previous = std::mem::replace(&mut self.last, byte);
        match byte {
            b'\'' => {
                self.push_token(Token::Other);
                self.lex = Lex::Quoted { escapes: false, backslash: false, closing: false };
            }
            b'"' => {
                self.push_token(Token::Other);
                self.lex = Lex::Identifier { closing: false };
            }
            b'$' => self.lex = Lex::DollarTag(Vec::new()),
            b'-' if previous == b'-' => self.start_comment(Lex::LineComment),
            b'*' if previous == b'/' => self.start_comment(Lex::BlockComment { depth: 1, last: 0 }),
            b'-' | b'/' => {
                self.before_operator = Some((self.first.clone(), self.last_two.clone()));
                self.push_token(Token::Other);
            }
            b'\\' => self.lex = Lex::Meta { line: vec![b'\\'] },
            b'(' => {
                self.paren_depth += 1;
                self.push_token(Token::Other);
            }
            b')' => {
                self.paren_depth = self.paren_depth.saturating_sub(1);
                self.push_token(Token::Other);
            }
            b';' if self.paren_depth == 0 && self.begin_depth == 0 => return self.end_statement(),
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => {}
            _ => self.push_token(Token::Other),
        }
        Ok(())
    }

    /// The `-` or `/` taken for an operator was the comment's start: no token.
    fn start_comment(&mut self, comment: Lex) {
        if let Some((first, last_two)) = self.before_operator.take() {
            (self.first, self.last_two) = (first, last_two);
        }
        self.lex = comment;
        self.last = 0;
    }

    fn end_word(&mut self) {
        let Some((word, ident)) = self.word.take() else { return };
        if ident {
            self.track_begin(&word);
            self.push_token(Token::Word(word));
        } else {
            self.push_token(Token::Other);
        }
    }

    /// psql's own heuristic (psqlscan.l): in a statement starting CREATE [OR REPLACE]
    /// FUNCTION|PROCEDURE, BEGIN (and CASE within it) opens a block that END closes.
    fn track_begin(&mut self, word: &[u8]) {
        if self.statement_word_count == 0 {
            self.statement_words = [0; 4];
        }
        if matches!(word, b"create" | b"function" | b"procedure" | b"or" | b"replace")
            && self.statement_word_count < self.statement_words.len()
        {
            self.statement_words[self.statement_word_count] = word[0];
        }
        self.statement_word_count += 1;
        let words = self.statement_words;
        let routine = words[0] == b'c'
            && (words[1] == b'f'
                || words[1] == b'p'
                || (words[1] == b'o' && words[2] == b'r' && matches!(words[3], b'f' | b'p')));
        if routine && self.paren_depth == 0 {
            match word {
                b"begin" => self.begin_depth += 1,
                b"case" if self.begin_depth >= 1 => self.begin_depth += 1,
                b"end" => self.begin_depth = self.begin_depth.saturating_sub(1),
                _ => {}
            }
        }
    }

    fn push_token(&mut self, token: Token) {
        if self.first.is_none() {
            self.first = Some(token.clone());
        }
        self.last_two = [self.last_two[1].take(), Some(token)];
    }

    fn end_statement(&mut self) -> Result<(), String> {
        let word = |text: &[u8]| Some(Token::Word(text.to_vec()));
        let copy = self.first == word(b"copy");
        let from_stdin = self.last_two == [word(b"from"), word(b"stdin")];
        self.first = None;
        self.last_two = [None, None];
        self.statement_word_count = 0;
        self.last = 0;
        if copy && from_stdin {
            self.lex = Lex::AfterCopy;
        } else if copy {
            return Err(format!(
                "line {}: a COPY other than `COPY … FROM stdin`, which pg_dump does not write",
                self.line_number
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(dump: &[u8]) -> Result<(), String> {
        let mut guard = MetaCommandGuard::default();
        // Fed in pieces that cut lines anywhere, as decoder chunks do.
        for piece in dump.chunks(3) {
            guard.feed(piece)?;
        }
        guard.finish()
    }

    #[test]
    fn pg_dumps_own_lines_and_copy_data_pass() {
        let dump = b"\\restrict abc9\nSET x = 1;\nCOPY public.t (a, b) FROM stdin;\n\\N\t1\n\\\\c\t2\n\\.\n\
            SELECT 'it''s \\ fine', E'a\\'b\\\\', \"we\"\"ird\\\", $$ \\! $$, $f$ $$ ; \\x $f$, x::int /* \\! /* */ \\ */;\n\
            -- \\! a comment\nCREATE FUNCTION f() RETURNS int BEGIN ATOMIC SELECT 1; END;\n\\unrestrict abc9\n";
        assert_eq!(check(dump), Ok(()));
    }

    #[test]
    fn meta_commands_anywhere_outside_quotes_are_refused() {
        for (dump, line) in [
            (&b"SELECT 1;\n\\! rm -rf /\n"[..], 2),
            (b"SELECT 1; \\! id\n", 1),
            (b"  \\! id\n", 1),
            (b"SELECT 1 \\g\n", 1),
            (b"\\copy t to program 'id'\n", 1),
            (b"\\o |id\n", 1),
            (b"\\restrict abc \\! id\n", 1),
            (b"SELECT 1;\n\\! id", 2),
            (b"SELECT $1 \\! id\n", 1),
            (b"SELECT $a \\! id\n", 1),
        ] {
            let refused = check(dump).unwrap_err();
            assert!(refused.starts_with(&format!("line {line}: `\\")), "{refused}");
            assert!(refused.ends_with("is a psql meta-command"), "{refused}");
        }
        assert_eq!(check(b"\\connect dndstory\n"), Err("line 1: `\\connect` is a psql meta-command".into()));
    }

    #[test]
    fn copy_data_starts_only_after_a_real_copy_from_stdin() {
        // A COPY line inside a dollar quote, a string, a comment or parentheses is no COPY.
        for dump in [
            &b"SELECT $$\nCOPY x FROM stdin;\n$$;\n\\! id\n"[..],
            b"SELECT '\nCOPY x FROM stdin;\n';\n\\! id\n",
            b"/*\nCOPY x FROM stdin;\n*/\n\\! id\n",
            b"SELECT (1;\nCOPY x FROM stdin;\n\\! id\n",
            b"CREATE FUNCTION f() RETURNS int BEGIN ATOMIC SELECT 1;\nCOPY x FROM stdin;\n\\! id\n",
            b"SELECT 1 -- \nCOPY x FROM stdin;\n\\! id\n",
        ] {
            assert!(
                check(dump).unwrap_err().contains("`\\!` is a psql meta-command"),
                "{}",
                String::from_utf8_lossy(dump)
            );
        }
        assert!(check(b"COPY x FROM stdin; \\! id\n1\n\\.\n").unwrap_err().contains("text after `COPY"));
        for other in [
            &b"COPY x FROM stdin WITH (FORMAT csv);\n"[..],
            b"COPY x FROM PROGRAM 'id';\n",
            b"copy (select 1) to stdout;\n",
        ] {
            assert!(check(other).unwrap_err().contains("a COPY other than"), "{}", String::from_utf8_lossy(other));
        }
        // Data ends only at a line that is exactly `\.`.
        assert!(check(b"COPY x FROM stdin;\n\\.x\n\\! id\n\\.\nSELECT 1;\n").is_ok());
        assert!(check(b"COPY x FROM stdin;\n\\.\n\\! id\n").is_err());
        assert!(check(b"copy \"T\" (\"a\") from STDIN;\r\n\\N\r\n\\.\r\n").is_ok());
    }

    #[test]
    fn long_lines_keep_their_state() {
        let columns: Vec<String> = (0..40).map(|i| format!("a_rather_long_column_name_number_{i}")).collect();
        let dump = format!("COPY public.wide ({}) FROM stdin;\n\\N\tx\n\\.\n", columns.join(", "));
        assert!(dump.lines().next().unwrap().len() > 1000);
        assert_eq!(check(dump.as_bytes()), Ok(()));
        let long_meta = format!("\\! {}\n", "x".repeat(10_000));
        assert!(check(long_meta.as_bytes()).unwrap_err().contains("`\\!`"));
    }

    #[test]
    fn strings_read_differently_without_standard_conforming_strings_are_refused() {
        assert!(check(b"SELECT 'x\\' ' \\! id ';\n").unwrap_err().contains("standard_conforming_strings"));
        assert_eq!(check(b"SELECT 'x\\\\' ;\n"), Ok(()));
    }
}
