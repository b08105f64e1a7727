//! A container's environment as upstream's kubelet makes it: `envFrom` (ConfigMaps and
//! Secrets, with prefixes) first, then `env` in order, where values may be literals with
//! `$(VAR)` references to earlier variables or come from a ConfigMap or Secret key, or from the
//! pod's own fields (downward API).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use kube::{Api, Client};

/// The container's variables in order; an error is the message of upstream's
/// CreateContainerConfigError.
pub async fn resolve(
    client: &Client,
    pod: &Pod,
    container: &Container,
    pod_ip: &str,
    host_ip: &str,
) -> Result<Vec<(String, String)>, String> {
    let namespace = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let mut vars: Vec<(String, String)> = Vec::new();
    let set = |vars: &mut Vec<(String, String)>, name: String, value: String| {
        vars.retain(|(n, _)| *n != name);
        vars.push((name, value));
    };
    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.clone().unwrap_or_default();
        if let Some(r) = &source.config_map_ref {
            match config_map(client, &namespace, &r.name).await? {
                Some(data) => data
                    .into_iter()
                    .for_each(|(k, v)| set(&mut vars, format!("{prefix}{k}"), v)),
                None if r.optional == Some(true) => {}
                None => return Err(format!("configmap \"{}\" not found", r.name)),
            }
        }
        if let Some(r) = &source.secret_ref {
            match secret(client, &namespace, &r.name).await? {
                Some(data) => data
                    .into_iter()
                    .for_each(|(k, v)| set(&mut vars, format!("{prefix}{k}"), v)),
                None if r.optional == Some(true) => {}
                None => return Err(format!("secret \"{}\" not found", r.name)),
            }
        }
    }
    for var in container.env.iter().flatten() {
        let value = match &var.value_from {
            None => expand(var.value.as_deref().unwrap_or(""), &vars),
            Some(from) => {
                if let Some(r) = &from.config_map_key_ref {
                    let data = config_map(client, &namespace, &r.name).await?;
                    match (data, r.optional == Some(true)) {
                        (Some(d), _) if d.contains_key(&r.key) => d[&r.key].clone(),
                        (_, true) => continue,
                        (Some(_), false) => {
                            return Err(format!(
                                "couldn't find key {} in ConfigMap {namespace}/{}",
                                r.key, r.name
                            ));
                        }
                        (None, false) => return Err(format!("configmap \"{}\" not found", r.name)),
                    }
                } else if let Some(r) = &from.secret_key_ref {
                    let data = secret(client, &namespace, &r.name).await?;
                    match (data, r.optional == Some(true)) {
                        (Some(d), _) if d.contains_key(&r.key) => d[&r.key].clone(),
                        (_, true) => continue,
                        (Some(_), false) => {
                            return Err(format!(
                                "couldn't find key {} in Secret {namespace}/{}",
                                r.key, r.name
                            ));
                        }
                        (None, false) => return Err(format!("secret \"{}\" not found", r.name)),
                    }
                } else if let Some(r) = &from.field_ref {
                    field(pod, &r.field_path, pod_ip, host_ip)
                        .ok_or_else(|| format!("unsupported fieldPath: {}", r.field_path))?
                } else if let Some(r) = &from.resource_field_ref {
                    resource(container, &r.resource).unwrap_or_default()
                } else {
                    String::new()
                }
            }
        };
        set(&mut vars, var.name.clone(), value);
    }
    Ok(vars)
}

async fn config_map(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<BTreeMap<String, String>>, String> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    Ok(api
        .get_opt(name)
        .await
        .map_err(|e| e.to_string())?
        .map(|cm| cm.data.unwrap_or_default()))
}

async fn secret(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<BTreeMap<String, String>>, String> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    Ok(api
        .get_opt(name)
        .await
        .map_err(|e| e.to_string())?
        .map(|s| {
            s.data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                .collect()
        }))
}

/// The downward API's pod fields.
fn field(pod: &Pod, path: &str, pod_ip: &str, host_ip: &str) -> Option<String> {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let keyed = |prefix: &str, map: Option<&BTreeMap<String, String>>| {
        let key = path.strip_prefix(prefix)?.strip_suffix("']")?;
        Some(map.and_then(|m| m.get(key)).cloned().unwrap_or_default())
    };
    Some(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.podIP" | "status.podIPs" => pod_ip.to_string(),
        "status.hostIP" | "status.hostIPs" => host_ip.to_string(),
        _ => {
            return keyed("metadata.labels['", meta.labels.as_ref())
                .or_else(|| keyed("metadata.annotations['", meta.annotations.as_ref()));
        }
    })
}

/// A resourceFieldRef: the container's limit (or request) as a plain number.
fn resource(container: &Container, resource: &str) -> Option<String> {
    let (kind, name) = resource.split_once('.')?;
    let resources = container.resources.as_ref()?;
    let map = match kind {
        "limits" => resources.limits.as_ref(),
        "requests" => resources.requests.as_ref(),
        _ => None,
    }?;
    map.get(name).map(|q| q.0.clone())
}

/// Expands `$(NAME)` references to variables defined before; `$$` escapes a `$`, and unknown
/// references stay as written, as upstream does.
fn expand(value: &str, vars: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('(')
            && let Some(end) = body.find(')')
        {
            let name = &body[..end];
            match vars.iter().rev().find(|(n, _)| n == name) {
                Some((_, v)) => out.push_str(v),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_expand_like_upstream() {
        let vars = vec![("A".to_string(), "x".to_string())];
        assert_eq!(expand("$(A)-$(B)-$$(A)-$", &vars), "x-$(B)-$(A)-$");
    }

    #[test]
    fn labels_are_read_by_key() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "labels": {"app": "web"}},
        }))
        .unwrap();
        assert_eq!(
            field(&pod, "metadata.labels['app']", "", "").as_deref(),
            Some("web")
        );
        assert_eq!(
            field(&pod, "status.podIP", "10.0.0.1", "").as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(field(&pod, "spec.bogus", "", ""), None);
    }
}
