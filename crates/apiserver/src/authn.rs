//! Authentication: who is asking, from an x509 client certificate signed by the cluster CA or
//! a bearer token from the static token file.

use std::{collections::HashMap, path::Path};

use rustls::pki_types::CertificateDer;

/// An authenticated user, as upstream's `user.Info`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The user name, e.g. `system:admin`.
    pub name: String,
    /// The user's UID, if known.
    pub uid: String,
    /// The groups, always including `system:authenticated`.
    pub groups: Vec<String>,
}

impl User {
    fn new(name: String, uid: String, mut groups: Vec<String>) -> User {
        if !groups.iter().any(|g| g == "system:authenticated") {
            groups.push("system:authenticated".to_string());
        }
        User { name, uid, groups }
    }

    /// Whether the user is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// Errors loading the token file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("token file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line is not `token,user,uid[,"group1,group2"]`.
    #[error("token file {path} line {line}: expected token,user,uid[,\"groups\"]")]
    Format {
        /// The file.
        path: String,
        /// The 1-based line number.
        line: usize,
    },
}

/// Authenticates requests.
#[derive(Debug, Default)]
pub struct Authenticator {
    tokens: HashMap<String, User>,
}

impl Authenticator {
    /// An authenticator that knows the tokens of a static token file (upstream's
    /// `--token-auth-file` CSV format: `token,user,uid,"group1,group2"`).
    pub fn with_token_file(path: Option<&Path>) -> Result<Authenticator, Error> {
        let mut auth = Authenticator::default();
        let Some(path) = path else { return Ok(auth) };
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: shown.clone(),
            source,
        })?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields = split_csv(line);
            if fields.len() < 3 || fields[0].is_empty() || fields[1].is_empty() {
                return Err(Error::Format {
                    path: shown,
                    line: i + 1,
                });
            }
            let groups = fields
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            auth.tokens.insert(
                fields[0].clone(),
                User::new(fields[1].clone(), fields[2].clone(), groups),
            );
        }
        Ok(auth)
    }

    /// Adds a bearer token for `user`.
    pub fn add_token(&mut self, token: &str, user: &str, groups: &[&str]) {
        let groups = groups.iter().map(|g| g.to_string()).collect();
        self.tokens.insert(
            token.to_string(),
            User::new(user.to_string(), String::new(), groups),
        );
    }

    /// The user of a bearer token (`Authorization: Bearer <token>` value without the scheme).
    pub fn token(&self, token: &str) -> Option<User> {
        self.tokens.get(token).cloned()
    }
}

/// The user of a client certificate that the TLS layer already verified against the CA:
/// the subject's common name is the user, its organizations are the groups.
pub fn from_certificate(cert: &CertificateDer<'_>) -> Option<User> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let subject = parsed.subject();
    let name = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_string))
        .collect();
    Some(User::new(name, String::new(), groups))
}

fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    fields.push(current);
    fields.into_iter().map(|f| f.trim().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_lines_with_quoted_groups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.csv");
        std::fs::write(
            &path,
            "# comment\nsecret,alice,1001,\"dev,ops\"\nother,bob,1002\n",
        )
        .unwrap();
        let auth = Authenticator::with_token_file(Some(&path)).unwrap();
        let alice = auth.token("secret").unwrap();
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.groups, ["dev", "ops", "system:authenticated"]);
        assert_eq!(
            auth.token("other").unwrap().groups,
            ["system:authenticated"]
        );
        assert!(auth.token("nope").is_none());
    }

    #[test]
    fn malformed_token_file_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.csv");
        std::fs::write(&path, "good,alice,1\nbad\n").unwrap();
        let err = Authenticator::with_token_file(Some(&path)).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
