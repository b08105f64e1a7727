//! Subnets of the cluster CIDR: allocation, exhaustion, rebuilding and release.

use super::{
    Allocator,
    cidrset::{Cidr, CidrError, CidrSet},
};

fn names(cidrs: Option<Vec<Cidr>>) -> Vec<String> {
    cidrs
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn nodes_get_distinct_subnets_and_keep_theirs() {
    let mut a = Allocator::new("10.42.0.0/16", 24).unwrap();
    assert_eq!(names(a.allocate("n0")), ["10.42.0.0/24"]);
    assert_eq!(names(a.allocate("n1")), ["10.42.1.0/24"]);
    assert_eq!(names(a.allocate("n0")), ["10.42.0.0/24"]);
}

#[test]
fn the_allocation_is_rebuilt_from_existing_nodes() {
    let mut a = Allocator::new("10.42.0.0/16", 24).unwrap();
    a.occupy("old", &["10.42.0.0/24".to_string()]);
    // Outside the cluster CIDR: not ours to track.
    a.occupy("foreign", &["192.168.0.0/24".to_string()]);
    assert_eq!(names(a.allocate("new")), ["10.42.1.0/24"]);
}

#[test]
fn exhaustion_and_release() {
    let mut a = Allocator::new("10.0.0.0/30", 31).unwrap();
    assert_eq!(names(a.allocate("a")), ["10.0.0.0/31"]);
    assert_eq!(names(a.allocate("b")), ["10.0.0.2/31"]);
    assert_eq!(a.allocate("c"), None);
    a.release("a");
    // A released subnet is handed out again once nothing else is free.
    assert_eq!(names(a.allocate("c")), ["10.0.0.0/31"]);
}

#[test]
fn dual_stack_gets_one_subnet_per_family() {
    let mut a = Allocator::new("10.42.0.0/16,fd00:42::/48", 24).unwrap();
    assert_eq!(names(a.allocate("n")), ["10.42.0.0/24", "fd00:42::/64"]);
    assert_eq!(names(a.allocate("m")), ["10.42.1.0/24", "fd00:42:0:1::/64"]);
}

#[test]
fn bad_settings_are_refused() {
    assert!(matches!(
        "10.0.0.0".parse::<Cidr>(),
        Err(CidrError::Invalid(_))
    ));
    assert_eq!(
        "10.1.2.3/16".parse::<Cidr>().unwrap().to_string(),
        "10.1.0.0/16"
    );
    let cluster: Cidr = "10.0.0.0/16".parse().unwrap();
    assert!(CidrSet::new(cluster, 8).is_err());
    assert!(CidrSet::new(cluster, 33).is_err());
    assert!(CidrSet::new("10.0.0.0/8".parse().unwrap(), 30).is_err());
    let mut set = CidrSet::new(cluster, 24).unwrap();
    assert_eq!(set.size(), 256);
    assert!(set.occupy(&"10.0.255.0/24".parse().unwrap()));
    assert!(!set.occupy(&"10.1.0.0/24".parse().unwrap()));
    assert!(!set.occupy(&"10.0.1.0/25".parse().unwrap()));
}
