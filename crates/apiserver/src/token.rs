//! Service account tokens as upstream issues them: JWTs (JWS compact serialization, ES256)
//! signed with the cluster's service-account key, carrying the standard claims (`iss`, `sub`,
//! `aud`, `exp`, `iat`, `nbf`, `jti`) and the private `kubernetes.io` claim that names the
//! service account and the object the token is bound to.
//!
//! This module only signs and checks tokens; whether the service account and the bound
//! object still exist is the authenticator's business (`authn.rs`), and issuing them on
//! request is the `serviceaccounts/token` subresource's (`token_request.rs`).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::{
    rand::SystemRandom,
    signature::{
        ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
        UnparsedPublicKey,
    },
};
use serde::{Deserialize, Deserializer, Serialize};

/// The issuer of the tokens (upstream's `--service-account-issuer` as kubeadm sets it), also
/// the audience the API server accepts by default (`--api-audiences`).
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// How far clocks may disagree when checking `exp`, `nbf` and `iat` (go-jose's
/// `DefaultLeeway`).
pub const LEEWAY_SECONDS: i64 = 60;

/// The `expirationSeconds` the ServiceAccount admission gives projected tokens; a pod-bound
/// token requested with it is extended to [`EXTENDED_EXPIRATION_SECONDS`] and warns after it
/// instead (upstream's `WarnOnlyBoundTokenExpirationSeconds`).
pub const WARN_ONLY_EXPIRATION_SECONDS: i64 = 3607;

/// The real lifetime of an extended token: one year (upstream's
/// `ExpirationExtensionSeconds`).
pub const EXTENDED_EXPIRATION_SECONDS: i64 = 24 * 365 * 60 * 60;

/// The DER prefix of a P-256 `SubjectPublicKeyInfo` before the 65-byte uncompressed point.
const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Why a token was refused, or a key could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The key is not a PKCS#8 ECDSA P-256 key.
    #[error("service account key: {0}")]
    Key(String),
    /// The token is not three base64url parts with a JSON header and payload.
    #[error("malformed token")]
    Malformed,
    /// The header names an algorithm other than ES256.
    #[error("unsupported signing algorithm {0:?}")]
    Algorithm(String),
    /// The signature does not verify with the key.
    #[error("invalid signature")]
    Signature,
    /// `exp` (plus leeway) has passed.
    #[error("service account token has expired")]
    Expired,
    /// `nbf` (minus leeway) is still to come.
    #[error("service account token is not valid yet")]
    NotValidYet,
    /// `iat` (minus leeway) is still to come.
    #[error("service account token is issued in the future")]
    IssuedInTheFuture,
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A reference to an object in the `kubernetes.io` claim.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ref {
    /// The object's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The object's uid.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

/// The private `kubernetes.io` claim (upstream's `privateClaims.Kubernetes`), fields in the
/// order upstream's JSON shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kubernetes {
    /// The service account's namespace.
    #[serde(default)]
    pub namespace: String,
    /// The node of the bound pod, or the bound node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Ref>,
    /// The bound pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<Ref>,
    /// The bound secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Ref>,
    /// The service account.
    #[serde(default)]
    pub serviceaccount: Ref,
    /// When an extended token should have been refreshed (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnafter: Option<i64>,
}

/// The claims of a service account token, in the order upstream's JSON shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The audiences.
    #[serde(default, deserialize_with = "string_or_list")]
    pub aud: Vec<String>,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// The issuer.
    pub iss: String,
    /// A unique id of the credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// What the token stands for.
    #[serde(rename = "kubernetes.io", default)]
    pub kubernetes: Kubernetes,
    /// Not before.
    pub nbf: i64,
    /// The subject: `system:serviceaccount:<namespace>:<name>`.
    pub sub: String,
}

/// A JWT `aud` is a string or a list of strings.
fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Aud::deserialize(d)? {
        Aud::One(a) => vec![a],
        Aud::Many(a) => a,
    })
}

impl Claims {
    /// Checks `exp`, `nbf` and `iat` against `now` with [`LEEWAY_SECONDS`], as go-jose's
    /// `Claims.Validate` does.
    pub fn check_time(&self, now: i64) -> Result<()> {
        if now > self.exp + LEEWAY_SECONDS {
            return Err(Error::Expired);
        }
        if now + LEEWAY_SECONDS < self.nbf {
            return Err(Error::NotValidYet);
        }
        if now + LEEWAY_SECONDS < self.iat {
            return Err(Error::IssuedInTheFuture);
        }
        Ok(())
    }
}

/// The user name of a service account (upstream's `serviceaccount.MakeUsername`).
pub fn username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    kid: String,
}

/// The service-account signing key: an ECDSA P-256 key pair.
pub struct Key {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    kid: String,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key").field("kid", &self.kid).finish()
    }
}

impl Key {
    /// A new key, as PKCS#8 DER.
    pub fn generate_pkcs8() -> Result<Vec<u8>> {
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|e| Error::Key(e.to_string()))
    }

    /// The key of a PKCS#8 DER document.
    pub fn from_pkcs8(der: &[u8]) -> Result<Key> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|e| Error::Key(e.to_string()))?;
        let mut key = Key {
            pair,
            rng,
            kid: String::new(),
        };
        // Upstream's key id: the base64url SHA-256 of the PKIX public key.
        key.kid = URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA256,
            &key.public_key_der(),
        ));
        Ok(key)
    }

    /// The public key as a DER `SubjectPublicKeyInfo`.
    pub fn public_key_der(&self) -> Vec<u8> {
        let mut der = P256_SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.pair.public_key().as_ref());
        der
    }

    /// The key id tokens carry in their header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs the claims: `header.payload.signature`, each base64url without padding.
    pub fn sign(&self, claims: &Claims) -> Result<String> {
        let header = Header {
            alg: "ES256".into(),
            kid: self.kid.clone(),
        };
        let encode = |v: &[u8]| URL_SAFE_NO_PAD.encode(v);
        let header = serde_json::to_vec(&header).map_err(|e| Error::Key(e.to_string()))?;
        let payload = serde_json::to_vec(claims).map_err(|e| Error::Key(e.to_string()))?;
        let signed = format!("{}.{}", encode(&header), encode(&payload));
        let signature = self
            .pair
            .sign(&self.rng, signed.as_bytes())
            .map_err(|e| Error::Key(e.to_string()))?;
        Ok(format!("{signed}.{}", encode(signature.as_ref())))
    }

    /// Checks the signature of a token and returns its claims (times are not checked).
    pub fn verify(&self, token: &str) -> Result<Claims> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::Malformed);
        };
        let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|_| Error::Malformed);
        let parsed: Header =
            serde_json::from_slice(&decode(header)?).map_err(|_| Error::Malformed)?;
        if parsed.alg != "ES256" {
            return Err(Error::Algorithm(parsed.alg));
        }
        let signed_len = header.len() + 1 + payload.len();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.pair.public_key().as_ref())
            .verify(&token.as_bytes()[..signed_len], &decode(signature)?)
            .map_err(|_| Error::Signature)?;
        serde_json::from_slice(&decode(payload)?).map_err(|_| Error::Malformed)
    }
}

/// The claims of a token without checking anything: what the token says it is, to decide
/// whether it is one of ours before verifying it.
pub fn peek(token: &str) -> Option<Claims> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// Issues service account tokens: the key, the issuer and the audiences the API server
/// accepts (which unbound requests default to).
#[derive(Debug)]
pub struct Issuer {
    /// The signing key.
    pub key: Key,
    /// `iss` of the tokens.
    pub issuer: String,
    /// The audiences the API server accepts.
    pub audiences: Vec<String>,
}

impl Issuer {
    /// An issuer with upstream's defaults: [`ISSUER`], which is also the only audience.
    pub fn new(key: Key) -> Issuer {
        Issuer {
            key,
            issuer: ISSUER.to_string(),
            audiences: vec![ISSUER.to_string()],
        }
    }

    /// Whether every audience in `audiences` is one the API server accepts (upstream's
    /// `isKubeAudiences`).
    pub fn all_accepted(&self, audiences: &[String]) -> bool {
        audiences.iter().all(|a| self.audiences.contains(a))
    }

    /// Whether some audience in `audiences` is one the API server accepts.
    pub fn any_accepted(&self, audiences: &[String]) -> bool {
        audiences.iter().any(|a| self.audiences.contains(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::from_pkcs8(&Key::generate_pkcs8().unwrap()).unwrap()
    }

    fn claims(now: i64) -> Claims {
        Claims {
            aud: vec![ISSUER.into()],
            exp: now + 3600,
            iat: now,
            iss: ISSUER.into(),
            jti: Some("id".into()),
            kubernetes: Kubernetes {
                namespace: "default".into(),
                serviceaccount: Ref {
                    name: "default".into(),
                    uid: "u1".into(),
                },
                ..Default::default()
            },
            nbf: now,
            sub: username("default", "default"),
        }
    }

    #[test]
    fn tokens_verify_with_their_key_only() {
        let key = key();
        let token = key.sign(&claims(1000)).unwrap();
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(key.verify(&token).unwrap(), claims(1000));
        assert_eq!(peek(&token), Some(claims(1000)));
        assert_eq!(self::key().verify(&token), Err(Error::Signature));
        // A changed payload no longer matches the signature.
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        let mut other = claims(1000);
        other.sub = username("default", "admin");
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&other).unwrap());
        assert_eq!(key.verify(&parts.join(".")), Err(Error::Signature));
        assert_eq!(key.verify("a.b"), Err(Error::Malformed));
        assert_eq!(key.verify("not a token"), Err(Error::Malformed));
    }

    #[test]
    fn header_and_payload_read_as_upstream() {
        let key = key();
        let token = key.sign(&claims(1000)).unwrap();
        let header = URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(header).unwrap(),
            format!("{{\"alg\":\"ES256\",\"kid\":\"{}\"}}", key.kid())
        );
        let payload = URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(payload).unwrap(),
            "{\"aud\":[\"https://kubernetes.default.svc.cluster.local\"],\"exp\":4600,\"iat\":1000,\
             \"iss\":\"https://kubernetes.default.svc.cluster.local\",\"jti\":\"id\",\
             \"kubernetes.io\":{\"namespace\":\"default\",\"serviceaccount\":{\"name\":\"default\",\"uid\":\"u1\"}},\
             \"nbf\":1000,\"sub\":\"system:serviceaccount:default:default\"}"
        );
        // The key id is the hash of a well-formed PKIX key.
        use x509_parser::prelude::FromDer;
        let spki = key.public_key_der();
        let (_, parsed) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&spki).unwrap();
        assert_eq!(parsed.subject_public_key.data.len(), 65);
    }

    #[test]
    fn an_audience_may_be_a_single_string() {
        let c: Claims = serde_json::from_str(
            r#"{"aud":"x","exp":1,"iat":0,"iss":"i","nbf":0,"sub":"s","kubernetes.io":{}}"#,
        )
        .unwrap();
        assert_eq!(c.aud, ["x"]);
    }

    #[test]
    fn times_are_checked_with_a_minute_of_leeway() {
        let c = claims(1000);
        assert_eq!(c.check_time(1000), Ok(()));
        assert_eq!(c.check_time(4600 + 60), Ok(()));
        assert_eq!(c.check_time(4600 + 61), Err(Error::Expired));
        assert_eq!(c.check_time(1000 - 60), Ok(()));
        let mut later = claims(1000);
        later.iat = 0;
        assert_eq!(later.check_time(900), Err(Error::NotValidYet));
        let mut issued = claims(1000);
        issued.nbf = 0;
        assert_eq!(issued.check_time(900), Err(Error::IssuedInTheFuture));
    }

    #[test]
    fn audiences() {
        let issuer = Issuer::new(key());
        assert!(issuer.all_accepted(&[ISSUER.into()]));
        assert!(!issuer.all_accepted(&[ISSUER.into(), "vault".into()]));
        assert!(issuer.any_accepted(&[ISSUER.into(), "vault".into()]));
        assert!(!issuer.any_accepted(&["vault".into()]));
    }
}
