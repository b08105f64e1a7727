//! A set of equal subnets carved from one CIDR (upstream's `cidrset`): which are taken, and
//! the next free one, searched from where the last allocation ended so that a released
//! subnet is not handed out again at once.

use std::{
    collections::BTreeSet,
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    str::FromStr,
};

/// Why a CIDR cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The text is not `address/prefix`.
    #[error("invalid CIDR {0:?}")]
    Invalid(String),
    /// The subnets would not fit in the CIDR, or there would be too many of them.
    #[error("node mask size /{mask} does not fit the cluster CIDR {cidr}")]
    MaskSize {
        /// The cluster CIDR.
        cidr: String,
        /// The node mask size.
        mask: u8,
    },
}

/// A CIDR: a network address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// The network address.
    pub addr: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

impl Cidr {
    fn bits(&self) -> u8 {
        if self.addr.is_ipv4() { 32 } else { 128 }
    }

    fn value(&self) -> u128 {
        match self.addr {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let invalid = || CidrError::Invalid(s.to_string());
        let (addr, prefix) = s.trim().split_once('/').ok_or_else(invalid)?;
        let addr: IpAddr = addr.parse().map_err(|_| invalid())?;
        let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
        let cidr = Cidr { addr, prefix };
        if prefix > cidr.bits() {
            return Err(invalid());
        }
        // The network address: host bits cleared.
        let host = u32::from(cidr.bits() - prefix);
        let network = if host >= 128 {
            0
        } else {
            (cidr.value() >> host) << host
        };
        Ok(Cidr {
            addr: from_value(network, addr.is_ipv4()),
            prefix,
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn from_value(value: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(u32::try_from(value).unwrap_or(u32::MAX)))
    } else {
        IpAddr::V6(Ipv6Addr::from(value))
    }
}

/// The most subnets one set hands out (upstream refuses node masks more than 16 bits longer
/// than the cluster CIDR's prefix).
const MAX_SUBNET_BITS: u8 = 16;

/// The subnets of one cluster CIDR.
#[derive(Debug)]
pub struct CidrSet {
    cluster: Cidr,
    mask: u8,
    taken: BTreeSet<u64>,
    next: u64,
}

impl CidrSet {
    /// The subnets of size `/mask` of `cluster`.
    pub fn new(cluster: Cidr, mask: u8) -> Result<CidrSet, CidrError> {
        if mask < cluster.prefix || mask > cluster.bits() || mask - cluster.prefix > MAX_SUBNET_BITS
        {
            return Err(CidrError::MaskSize {
                cidr: cluster.to_string(),
                mask,
            });
        }
        Ok(CidrSet {
            cluster,
            mask,
            taken: BTreeSet::new(),
            next: 0,
        })
    }

    /// How many subnets the set holds.
    pub fn size(&self) -> u64 {
        1 << (self.mask - self.cluster.prefix)
    }

    fn subnet(&self, index: u64) -> Cidr {
        let shift = u32::from(self.cluster.bits() - self.mask);
        let value = self.cluster.value() + (u128::from(index) << shift);
        Cidr {
            addr: from_value(value, self.cluster.addr.is_ipv4()),
            prefix: self.mask,
        }
    }

    /// The index of `cidr` if it is one of this set's subnets.
    fn index(&self, cidr: &Cidr) -> Option<u64> {
        if cidr.prefix != self.mask || cidr.addr.is_ipv4() != self.cluster.addr.is_ipv4() {
            return None;
        }
        let shift = u32::from(self.cluster.bits() - self.mask);
        let offset = cidr.value().checked_sub(self.cluster.value())? >> shift;
        let index = u64::try_from(offset).ok()?;
        (index < self.size() && self.subnet(index) == *cidr).then_some(index)
    }

    /// Takes the next free subnet, or `None` when all are taken.
    pub fn allocate(&mut self) -> Option<Cidr> {
        let size = self.size();
        for i in 0..size {
            let candidate = (self.next + i) % size;
            if self.taken.insert(candidate) {
                self.next = (candidate + 1) % size;
                return Some(self.subnet(candidate));
            }
        }
        None
    }

    /// Marks `cidr` taken (a node already has it); false if it is not one of this set's.
    pub fn occupy(&mut self, cidr: &Cidr) -> bool {
        match self.index(cidr) {
            Some(i) => {
                self.taken.insert(i);
                true
            }
            None => false,
        }
    }

    /// Frees `cidr`.
    pub fn release(&mut self, cidr: &Cidr) {
        if let Some(i) = self.index(cidr) {
            self.taken.remove(&i);
        }
    }
}
