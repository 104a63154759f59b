//! Splits the image property `os_command_line` into argv the way a POSIX
//! shell would, without running a shell: quotes group, backslash escapes.

pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => current.push(ch),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => current.push(ch),
                            Some(ch) => {
                                current.push('\\');
                                current.push(ch);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(ch) => current.push(ch),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(ch) => current.push(ch),
                    None => return Err("trailing backslash".into()),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    args.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        args.push(current);
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            split(r#"sh -c "echo 'hi there'; exit 3""#).expect("valid"),
            vec!["sh", "-c", "echo 'hi there'; exit 3"]
        );
        assert_eq!(split("  a  b\tc ").expect("valid"), vec!["a", "b", "c"]);
        assert_eq!(split(r"a\ b '' x").expect("valid"), vec!["a b", "", "x"]);
        assert_eq!(split(r#""a\"b\n""#).expect("valid"), vec!["a\"b\\n"]);
        assert!(split("").expect("valid").is_empty());
    }

    #[test]
    fn unterminated_quotes_are_errors() {
        assert!(split("sh -c 'oops").is_err());
        assert!(split("\"oops").is_err());
        assert!(split("oops\\").is_err());
    }
}
