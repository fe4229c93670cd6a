//! The script language, parsed by hand: statements of calls, property reads, bindings and
//! JSON literals.
//!
//! ```text
//! script    := statement ((';' | newline) statement)*
//! statement := 'let' NAME '=' expr | expr
//! expr      := NAME postfix* | literal
//! postfix   := '.' NAME | '(' args ')' | '.map' '(' NAME '=>' expr ')'
//! literal   := number | bigint ('123n') | string | true | false | null | undefined
//!            | '[' expr, … ']' | '{' key ':' expr, … '}'
//! ```
//!
//! Newlines separate statements only outside brackets, so an argument list may span lines.
//! Each statement keeps its source text, for the stub markers that name where a stub came from.

use std::fmt;

/// A parsed statement and the text it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub kind: StatementKind,
    /// The statement's source text, trimmed.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StatementKind {
    /// `let NAME = EXPR`: binds, prints nothing.
    Let { name: String, expr: Expr },
    /// Any other statement: its result is printed.
    Expr(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A JSON literal (or `undefined`, or a bigint).
    Literal(capnweb::Value),
    /// `[a, b]` whose elements may be expressions (e.g. calls, pipelined).
    Array(Vec<Expr>),
    /// `{"k": v}` whose values may be expressions.
    Object(Vec<(String, Expr)>),
    /// A name (a binding, a `.map()` parameter, or else the main object's member) and what
    /// is done to it, left to right.
    Chain { root: Name, steps: Vec<Step> },
}

/// An identifier and where it is (byte offset), for evaluation errors.
#[derive(Debug, Clone, PartialEq)]
pub struct Name {
    pub text: String,
    pub at: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `.name`
    Member(Name),
    /// `(args…)`
    Call(Vec<Expr>),
    /// `.map(param => body)`
    Map { param: Name, body: Box<Expr> },
}

/// A syntax error: what was expected, where (byte offset into the script).
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub at: usize,
}

impl SyntaxError {
    /// The error with its line and column (1-based, in characters) and the line itself with a
    /// caret under the spot.
    pub fn render(&self, script: &str) -> String {
        let at = self.at.min(script.len());
        let line_start = script[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_end = script[at..].find('\n').map_or(script.len(), |i| at + i);
        let line_no = script[..at].matches('\n').count() + 1;
        let column = script[line_start..at].chars().count() + 1;
        let line = &script[line_start..line_end];
        format!(
            "syntax error at line {line_no}, column {column}: {}\n  {line}\n  {}^",
            self.message,
            " ".repeat(column - 1)
        )
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.at)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Number(f64),
    BigInt(String),
    Str(String),
    Punct(char),
    Arrow,
    /// A statement separator: `;`, or a newline outside brackets.
    Sep,
    End,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(name) => write!(f, "`{name}`"),
            Tok::Number(n) => write!(f, "the number {n}"),
            Tok::BigInt(n) => write!(f, "the bigint {n}n"),
            Tok::Str(s) => write!(f, "the string {}", serde_json::Value::from(s.as_str())),
            Tok::Punct(c) => write!(f, "`{c}`"),
            Tok::Arrow => f.write_str("`=>`"),
            Tok::Sep => f.write_str("the end of the statement"),
            Tok::End => f.write_str("the end of the script"),
        }
    }
}

/// Splits the script into tokens with their byte offsets.
fn lex(src: &str) -> Result<Vec<(Tok, usize)>, SyntaxError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b'\n' | b';' => {
                if c == b';' || depth == 0 {
                    out.push((Tok::Sep, start));
                }
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'#' => {
                // A comment, to the end of the line.
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                out.push((Tok::Punct(c as char), start));
                i += 1;
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                out.push((Tok::Punct(c as char), start));
                i += 1;
            }
            b'=' if bytes.get(i + 1) == Some(&b'>') => {
                out.push((Tok::Arrow, start));
                i += 2;
            }
            b'.' | b',' | b':' | b'=' => {
                out.push((Tok::Punct(c as char), start));
                i += 1;
            }
            b'"' => {
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => {
                            return Err(SyntaxError {
                                message: "this string is not closed (a `\"` is missing)".into(),
                                at: start,
                            })
                        }
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
                let text: String =
                    serde_json::from_str(&src[start..i]).map_err(|e| SyntaxError {
                        message: format!("this string is not a valid JSON string: {e}"),
                        at: start,
                    })?;
                out.push((Tok::Str(text), start));
            }
            b'-' | b'0'..=b'9' => {
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_digit()
                        || matches!(bytes[i], b'.' | b'e' | b'E')
                        || (matches!(bytes[i], b'+' | b'-') && matches!(bytes[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
                let text = &src[start..i];
                if bytes.get(i) == Some(&b'n') {
                    i += 1;
                    if capnweb::BigInt::parse(text).is_none() {
                        return Err(SyntaxError {
                            message: format!("`{text}n` is not a valid bigint"),
                            at: start,
                        });
                    }
                    out.push((Tok::BigInt(text.to_owned()), start));
                    continue;
                }
                // JSON's number syntax, so `01` or `1.` are refused as JSON would.
                let number: serde_json::Number =
                    serde_json::from_str(text).map_err(|_| SyntaxError {
                        message: format!("`{text}` is not a valid JSON number"),
                        at: start,
                    })?;
                let value = number.as_f64().ok_or_else(|| SyntaxError {
                    message: format!("`{text}` is not a number that fits in a double"),
                    at: start,
                })?;
                out.push((Tok::Number(value), start));
            }
            c if c == b'_' || c == b'$' || c.is_ascii_alphabetic() => {
                while i < bytes.len()
                    && (bytes[i] == b'_' || bytes[i] == b'$' || bytes[i].is_ascii_alphanumeric())
                {
                    i += 1;
                }
                out.push((Tok::Ident(src[start..i].to_owned()), start));
            }
            _ => {
                let ch = src[start..].chars().next().unwrap_or('?');
                let hint = if ch == '\'' {
                    " (strings take double quotes, as in JSON)"
                } else {
                    ""
                };
                return Err(SyntaxError {
                    message: format!("unexpected character `{ch}`{hint}"),
                    at: start,
                });
            }
        }
    }
    out.push((Tok::End, src.len()));
    Ok(out)
}

/// Parses a whole script. Empty statements (blank lines, `;;`) are skipped.
pub fn parse_script(src: &str) -> Result<Vec<Statement>, SyntaxError> {
    let tokens = lex(src)?;
    let mut parser = Parser {
        src,
        tokens,
        pos: 0,
        depth: 0,
    };
    let mut statements = Vec::new();
    loop {
        while parser.peek() == &Tok::Sep {
            parser.pos += 1;
        }
        if parser.peek() == &Tok::End {
            return Ok(statements);
        }
        statements.push(parser.statement()?);
        match parser.peek() {
            Tok::Sep | Tok::End => {}
            other => {
                return Err(parser.error(format!(
                    "expected `;` or a new line after the statement, found {other}"
                )))
            }
        }
    }
}

/// How deeply expressions may nest (the protocol's own depth limit), so that a script of
/// ten thousand `[` is an error, not a stack overflow.
const MAX_DEPTH: usize = 256;

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos.min(self.tokens.len() - 1)].0
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        &self.tokens[(self.pos + ahead).min(self.tokens.len() - 1)].0
    }

    fn offset(&self) -> usize {
        self.tokens[self.pos.min(self.tokens.len() - 1)].1
    }

    fn next(&mut self) -> Tok {
        let tok = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        tok
    }

    fn error(&self, message: String) -> SyntaxError {
        SyntaxError {
            message,
            at: self.offset(),
        }
    }

    fn expect(&mut self, c: char, context: &str) -> Result<(), SyntaxError> {
        if self.peek() == &Tok::Punct(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected `{c}` {context}, found {}", self.peek())))
        }
    }

    fn name(&mut self, what: &str) -> Result<Name, SyntaxError> {
        let at = self.offset();
        match self.next() {
            Tok::Ident(text) => Ok(Name { text, at }),
            other => {
                self.pos -= 1;
                Err(SyntaxError {
                    message: format!("expected {what}, found {other}"),
                    at,
                })
            }
        }
    }

    fn statement(&mut self) -> Result<Statement, SyntaxError> {
        let start = self.offset();
        let kind = if self.peek() == &Tok::Ident("let".into())
            && matches!(self.peek_at(1), Tok::Ident(_))
        {
            self.pos += 1;
            let name = self.name("a name to bind")?;
            self.expect('=', &format!("after `let {}`", name.text))?;
            StatementKind::Let {
                name: name.text,
                expr: self.expr()?,
            }
        } else {
            StatementKind::Expr(self.expr()?)
        };
        let end = self.offset();
        Ok(Statement {
            kind,
            source: self.src[start..end].trim().to_owned(),
        })
    }

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("expressions nest more than {MAX_DEPTH} deep here")));
        }
        self.depth += 1;
        let expr = self.expr_inner();
        self.depth -= 1;
        expr
    }

    fn expr_inner(&mut self) -> Result<Expr, SyntaxError> {
        let at = self.offset();
        match self.next() {
            Tok::Number(n) => Ok(Expr::Literal(capnweb::Value::Number(n))),
            Tok::BigInt(text) => match capnweb::BigInt::parse(&text) {
                Some(b) => Ok(Expr::Literal(capnweb::Value::BigInt(b))),
                None => Err(SyntaxError {
                    message: format!("`{text}n` is not a valid bigint"),
                    at,
                }),
            },
            Tok::Str(s) => Ok(Expr::Literal(capnweb::Value::String(s))),
            Tok::Punct('[') => self.array(),
            Tok::Punct('{') => self.object(),
            Tok::Ident(word) => match word.as_str() {
                "true" => Ok(Expr::Literal(capnweb::Value::Bool(true))),
                "false" => Ok(Expr::Literal(capnweb::Value::Bool(false))),
                "null" => Ok(Expr::Literal(capnweb::Value::Null)),
                "undefined" => Ok(Expr::Literal(capnweb::Value::Undefined)),
                _ => self.chain(Name { text: word, at }),
            },
            other => {
                self.pos -= 1;
                Err(SyntaxError {
                    message: format!("expected a call, a name or a JSON value, found {other}"),
                    at,
                })
            }
        }
    }

    fn chain(&mut self, root: Name) -> Result<Expr, SyntaxError> {
        let mut steps = Vec::new();
        loop {
            match self.peek() {
                Tok::Punct('.') => {
                    self.pos += 1;
                    let member = self.name("a property or method name after `.`")?;
                    if member.text == "map" && self.peek() == &Tok::Punct('(') {
                        self.pos += 1;
                        let param = self.name("a parameter name, as in `.map(x => square(x))`")?;
                        if self.next() != Tok::Arrow {
                            self.pos -= 1;
                            return Err(self.error(format!(
                                "expected `=>` after `.map({}`, as in `.map(x => square(x))`",
                                param.text
                            )));
                        }
                        let body = self.expr()?;
                        self.expect(')', "to close `.map(`")?;
                        steps.push(Step::Map {
                            param,
                            body: Box::new(body),
                        });
                    } else {
                        steps.push(Step::Member(member));
                    }
                }
                Tok::Punct('(') => {
                    self.pos += 1;
                    let args = self.list(')', "arguments")?;
                    steps.push(Step::Call(args));
                }
                _ => return Ok(Expr::Chain { root, steps }),
            }
        }
    }

    /// Comma-separated expressions up to `close` (a trailing comma is allowed).
    fn list(&mut self, close: char, what: &str) -> Result<Vec<Expr>, SyntaxError> {
        let mut items = Vec::new();
        loop {
            if self.peek() == &Tok::Punct(close) {
                self.pos += 1;
                return Ok(items);
            }
            items.push(self.expr()?);
            match self.next() {
                Tok::Punct(',') => {}
                Tok::Punct(c) if c == close => return Ok(items),
                other => {
                    self.pos -= 1;
                    return Err(self.error(format!(
                        "expected `,` or `{close}` in the {what}, found {other}"
                    )));
                }
            }
        }
    }

    fn array(&mut self) -> Result<Expr, SyntaxError> {
        Ok(Expr::Array(self.list(']', "array")?))
    }

    fn object(&mut self) -> Result<Expr, SyntaxError> {
        let mut fields = Vec::new();
        loop {
            let at = self.offset();
            let key = match self.next() {
                Tok::Punct('}') => return Ok(Expr::Object(fields)),
                Tok::Str(key) | Tok::Ident(key) => key,
                other => {
                    self.pos -= 1;
                    return Err(SyntaxError {
                        message: format!("expected a key or `}}` in the object, found {other}"),
                        at,
                    });
                }
            };
            self.expect(':', &format!("after the key {:?}", key))?;
            fields.push((key, self.expr()?));
            match self.next() {
                Tok::Punct(',') => {}
                Tok::Punct('}') => return Ok(Expr::Object(fields)),
                other => {
                    self.pos -= 1;
                    return Err(
                        self.error(format!("expected `,` or `}}` in the object, found {other}"))
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capnweb::Value;

    fn name(text: &str, at: usize) -> Name {
        Name {
            text: text.into(),
            at,
        }
    }

    #[test]
    fn statements_split_on_semicolons_and_newlines_but_not_inside_brackets() {
        let script = "let c = makeCounter(5); c.increment(\n  2,\n)\nsquare(3)";
        let statements = parse_script(script).unwrap();
        let sources: Vec<&str> = statements.iter().map(|s| s.source.as_str()).collect();
        assert_eq!(
            sources,
            [
                "let c = makeCounter(5)",
                "c.increment(\n  2,\n)",
                "square(3)"
            ]
        );
        assert!(matches!(&statements[0].kind, StatementKind::Let { name, .. } if name == "c"));
    }

    #[test]
    fn chains_calls_members_and_maps() {
        let statements = parse_script("getUser(42).profile.name; f().map(x => square(x))").unwrap();
        assert_eq!(
            statements[0].kind,
            StatementKind::Expr(Expr::Chain {
                root: name("getUser", 0),
                steps: vec![
                    Step::Call(vec![Expr::Literal(Value::Number(42.0))]),
                    Step::Member(name("profile", 12)),
                    Step::Member(name("name", 20)),
                ],
            })
        );
        let StatementKind::Expr(Expr::Chain { steps, .. }) = &statements[1].kind else {
            panic!("{statements:?}")
        };
        assert!(matches!(&steps[1], Step::Map { param, .. } if param.text == "x"));
    }

    #[test]
    fn json_literals_are_arguments() {
        let statements =
            parse_script(r#"echo({"a": [1, -2.5e3, "x\n", true, null], b: 12n}, undefined)"#)
                .unwrap();
        let StatementKind::Expr(Expr::Chain { steps, .. }) = &statements[0].kind else {
            panic!()
        };
        let Step::Call(args) = &steps[0] else {
            panic!()
        };
        assert_eq!(args.len(), 2);
        assert_eq!(args[1], Expr::Literal(Value::Undefined));
        let Expr::Object(fields) = &args[0] else {
            panic!()
        };
        assert_eq!(fields[0].0, "a");
        assert_eq!(
            fields[1].1,
            Expr::Literal(Value::BigInt(capnweb::BigInt::parse("12").unwrap()))
        );
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let script = "square(2)\nsquare(2 3)";
        let error = parse_script(script).unwrap_err();
        assert_eq!(
            error.render(script),
            "syntax error at line 2, column 10: expected `,` or `)` in the arguments, found the number 3\n  square(2 3)\n           ^"
        );
        let error = parse_script("square('x')").unwrap_err();
        assert!(error.message.contains("double quotes"), "{error}");
        let error = parse_script("f().map(x square(x))").unwrap_err();
        assert!(error.message.contains("`=>`"), "{error}");
        let error = parse_script("f(\"open").unwrap_err();
        assert!(error.message.contains("not closed"), "{error}");
        let deep = "[".repeat(100_000);
        let error = parse_script(&deep).unwrap_err();
        assert!(error.message.contains("nest"), "{error}");
        let error = parse_script("let = 3").unwrap_err();
        assert_eq!(error.at, 4, "{error}");
    }
}
