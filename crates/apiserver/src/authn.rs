//! Authentication: who is asking, from an x509 client certificate signed by the cluster CA, a
//! bearer token from the static token file, or a service account token (a JWT the API server
//! signed, whose service account and bound object still exist).

use std::{collections::HashMap, path::Path, sync::Arc};

use apimachinery::{meta, resources};
use rustls::pki_types::CertificateDer;

use crate::{
    cache::Cache,
    token::{self, Claims, Issuer},
};

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
    service_accounts: Option<ServiceAccountTokens>,
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

    /// Also accepts the service account tokens of `tokens`.
    pub fn set_service_accounts(&mut self, tokens: ServiceAccountTokens) {
        self.service_accounts = Some(tokens);
    }

    /// The user of a bearer token (`Authorization: Bearer <token>` value without the scheme).
    pub fn token(&self, token: &str) -> Option<User> {
        if let Some(user) = self.tokens.get(token) {
            return Some(user.clone());
        }
        let accounts = self.service_accounts.as_ref()?;
        match accounts.authenticate(token, jiff::Timestamp::now().as_second()) {
            Ok(user) => user,
            Err(error) => {
                tracing::debug!(%error, "service account token refused");
                None
            }
        }
    }
}

/// What the authenticator needs to know of an object a token names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The object's uid.
    pub uid: String,
    /// Its `deletionTimestamp` in seconds since the epoch, if it is being deleted.
    pub deleting_at: Option<i64>,
}

/// Where the authenticator looks objects up; the watch cache in the server, a map in tests.
pub trait Objects: Send + Sync {
    /// The object of a core/v1 resource (`serviceaccounts`, `pods`, `secrets`, `nodes`).
    fn find(&self, resource: &str, namespace: Option<&str>, name: &str) -> Option<Found>;
}

impl Objects for Cache {
    fn find(&self, resource: &str, namespace: Option<&str>, name: &str) -> Option<Found> {
        let info = resources::find("", "v1", resource)?;
        let obj = self.resource(info).get(namespace, name)?.object();
        let deleting_at = meta::str_field(&obj, "deletionTimestamp")
            .parse::<jiff::Timestamp>()
            .ok()
            .map(|t| t.as_second());
        Some(Found {
            uid: meta::uid(&obj).to_string(),
            deleting_at,
        })
    }
}

/// Why a token that the API server issued was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejected {
    /// The signature or the times are wrong.
    #[error(transparent)]
    Token(#[from] token::Error),
    /// None of the token's audiences is one the API server accepts.
    #[error("token audiences {token:?} is invalid for the target audiences {accepted:?}")]
    Audience {
        /// The token's audiences.
        token: Vec<String>,
        /// The audiences the API server accepts.
        accepted: Vec<String>,
    },
    /// An object the token names is gone (or was replaced, or deleted a while ago).
    #[error("{resource} {namespace}/{name} {why}")]
    Object {
        /// The resource.
        resource: &'static str,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// What is wrong with it.
        why: String,
    },
}

/// Checks service account tokens (upstream's `JWTTokenAuthenticator` with the
/// `validator` of `pkg/serviceaccount/claims.go`).
pub struct ServiceAccountTokens {
    issuer: Arc<Issuer>,
    objects: Arc<dyn Objects>,
}

impl std::fmt::Debug for ServiceAccountTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountTokens")
            .field("issuer", &self.issuer.issuer)
            .finish()
    }
}

impl ServiceAccountTokens {
    /// Checks the tokens of `issuer` against the objects of `objects`.
    pub fn new(issuer: Arc<Issuer>, objects: Arc<dyn Objects>) -> ServiceAccountTokens {
        ServiceAccountTokens { issuer, objects }
    }

    /// The user of a token at time `now`: `Ok(None)` when the token is not one of ours (not a
    /// JWT, or another issuer's), an error when it is ours but not valid.
    pub fn authenticate(&self, token: &str, now: i64) -> Result<Option<User>, Rejected> {
        match token::peek(token) {
            Some(claims) if claims.iss == self.issuer.issuer => {}
            _ => return Ok(None),
        }
        let claims = self.issuer.key.verify(token)?;
        if !self.issuer.any_accepted(&claims.aud) {
            return Err(Rejected::Audience {
                token: claims.aud,
                accepted: self.issuer.audiences.clone(),
            });
        }
        claims.check_time(now)?;
        self.check_objects(&claims, now)?;
        let k = &claims.kubernetes;
        Ok(Some(User::new(
            token::username(&k.namespace, &k.serviceaccount.name),
            k.serviceaccount.uid.clone(),
            vec![
                "system:serviceaccounts".to_string(),
                format!("system:serviceaccounts:{}", k.namespace),
            ],
        )))
    }

    /// The service account, and the pod or secret the token is bound to, must still exist
    /// with the uid of the token; objects deleted more than a minute ago no longer count.
    fn check_objects(&self, claims: &Claims, now: i64) -> Result<(), Rejected> {
        let k = &claims.kubernetes;
        let mut named = vec![("serviceaccounts", &k.serviceaccount)];
        if let Some(pod) = &k.pod {
            named.push(("pods", pod));
        }
        if let Some(secret) = &k.secret {
            named.push(("secrets", secret));
        }
        for (resource, reference) in named {
            let fail = |why: String| Rejected::Object {
                resource,
                namespace: k.namespace.clone(),
                name: reference.name.clone(),
                why,
            };
            let found = self
                .objects
                .find(resource, Some(&k.namespace), &reference.name)
                .ok_or_else(|| fail("not found".into()))?;
            if found
                .deleting_at
                .is_some_and(|t| t < now - token::LEEWAY_SECONDS)
            {
                return Err(fail("has been deleted".into()));
            }
            if found.uid != reference.uid {
                return Err(fail(format!(
                    "uid ({}) does not match claim ({})",
                    found.uid, reference.uid
                )));
            }
        }
        Ok(())
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

    /// Objects by `(resource, namespace, name)`.
    #[derive(Default)]
    struct Fake(std::sync::Mutex<HashMap<(String, String, String), Found>>);

    impl Fake {
        fn put(&self, resource: &str, name: &str, uid: &str, deleting_at: Option<i64>) {
            self.0.lock().unwrap().insert(
                (resource.into(), "ns".into(), name.into()),
                Found {
                    uid: uid.into(),
                    deleting_at,
                },
            );
        }
    }

    impl Objects for Fake {
        fn find(&self, resource: &str, namespace: Option<&str>, name: &str) -> Option<Found> {
            let key = (resource.into(), namespace.unwrap_or("").into(), name.into());
            self.0.lock().unwrap().get(&key).cloned()
        }
    }

    fn claims(pod: Option<(&str, &str)>) -> Claims {
        Claims {
            aud: vec![token::ISSUER.into()],
            exp: 1000 + 3600,
            iat: 1000,
            iss: token::ISSUER.into(),
            jti: None,
            kubernetes: token::Kubernetes {
                namespace: "ns".into(),
                serviceaccount: token::Ref {
                    name: "robot".into(),
                    uid: "sa-1".into(),
                },
                pod: pod.map(|(name, uid)| token::Ref {
                    name: name.into(),
                    uid: uid.into(),
                }),
                ..Default::default()
            },
            nbf: 1000,
            sub: token::username("ns", "robot"),
        }
    }

    fn setup() -> (ServiceAccountTokens, Arc<Fake>) {
        let key = token::Key::from_pkcs8(&token::Key::generate_pkcs8().unwrap()).unwrap();
        let objects = Arc::new(Fake::default());
        objects.put("serviceaccounts", "robot", "sa-1", None);
        let tokens = ServiceAccountTokens::new(Arc::new(Issuer::new(key)), objects.clone());
        (tokens, objects)
    }

    #[test]
    fn a_service_account_token_names_the_account_and_its_groups() {
        let (tokens, _) = setup();
        let token = tokens.issuer.key.sign(&claims(None)).unwrap();
        let user = tokens.authenticate(&token, 1010).unwrap().unwrap();
        assert_eq!(user.name, "system:serviceaccount:ns:robot");
        assert_eq!(user.uid, "sa-1");
        assert_eq!(
            user.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ns",
                "system:authenticated"
            ]
        );
        // Not a JWT, or another issuer's: not ours to judge.
        assert_eq!(tokens.authenticate("opaque", 1010), Ok(None));
        let mut other = claims(None);
        other.iss = "https://elsewhere".into();
        let token = tokens.issuer.key.sign(&other).unwrap();
        assert_eq!(tokens.authenticate(&token, 1010), Ok(None));
    }

    #[test]
    fn expiry_audience_and_deleted_objects_refuse_a_token() {
        let (tokens, objects) = setup();
        let token = tokens.issuer.key.sign(&claims(None)).unwrap();
        assert_eq!(
            tokens.authenticate(&token, 1000 + 3600 + 61),
            Err(Rejected::Token(token::Error::Expired))
        );
        let mut vault = claims(None);
        vault.aud = vec!["vault".into()];
        let vault = tokens.issuer.key.sign(&vault).unwrap();
        assert!(matches!(
            tokens.authenticate(&vault, 1010),
            Err(Rejected::Audience { .. })
        ));
        // A pod-bound token lives as long as its pod (plus a minute after deletion).
        let bound = tokens
            .issuer
            .key
            .sign(&claims(Some(("web", "pod-1"))))
            .unwrap();
        assert!(tokens.authenticate(&bound, 1010).is_err());
        objects.put("pods", "web", "pod-1", Some(1005));
        assert!(tokens.authenticate(&bound, 1010).unwrap().is_some());
        assert!(tokens.authenticate(&bound, 1070).is_err());
        objects.put("pods", "web", "pod-2", None);
        assert!(tokens.authenticate(&bound, 1010).is_err());
        // A service account recreated under the same name does not inherit old tokens.
        objects.put("serviceaccounts", "robot", "sa-2", None);
        assert_eq!(
            tokens.authenticate(&token, 1010).unwrap_err().to_string(),
            "serviceaccounts ns/robot uid (sa-2) does not match claim (sa-1)"
        );
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
