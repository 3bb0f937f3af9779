//! The difference between the desired table and the kernel's, as one nft script.
//!
//! Contract (DESIGN §4.2, "reconcile, never flush"):
//! - elements are compared one by one: only missing ones are added, only extra ones (or map
//!   entries whose data differs) deleted; a DNAT entry that is already right is not touched,
//!   so conntrack entries and established flows through it are unaffected;
//! - a managed chain is rebuilt (flushed and refilled, inside the same atomic transaction)
//!   only when its rules' comments differ from the layout's, and a set is recreated only when
//!   its declaration differs (then every managed chain is refilled, since rules reference it);
//! - chain `user`, and chains or sets cnm does not declare, are never flushed or deleted;
//! - an empty plan means the kernel already matches.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::elements::{Data, Key, render_element};
use super::kernel::{KernelChain, KernelHook, KernelTable};
use super::layout::{self, CHAINS, FAMILY, SETS, SetDecl, TABLE, USER_CHAIN};

/// Desired elements, by set name.
pub type Desired = BTreeMap<&'static str, BTreeMap<Key, Option<Data>>>;

/// A script and how many objects it changes (0: nothing to do).
#[derive(Debug, Default)]
pub struct Plan {
    pub script: String,
    pub changes: usize,
    /// Human summary for the log (`added 3 elements to dnat_v4`, `rebuilt chain forward`).
    pub notes: Vec<String>,
}

fn decl_matches(decl: &SetDecl, k: &super::kernel::KernelSet) -> bool {
    let names = |kinds: &[super::elements::Kind]| {
        kinds
            .iter()
            .map(|x| x.nft_name().to_string())
            .collect::<Vec<_>>()
    };
    k.key == names(decl.key)
        && k.data == decl.data.map(names)
        && k.interval == decl.interval
        && k.elements.is_some()
}

fn hook_matches(decl: &layout::ChainDecl, k: &KernelChain) -> bool {
    match (&decl.hook, &k.hook) {
        (None, None) => true,
        (
            Some(h),
            Some(KernelHook {
                kind,
                hook,
                priority,
                policy,
            }),
        ) => {
            h.kind == kind && h.hook == hook && h.priority as i64 == *priority && policy == "accept"
        }
        _ => false,
    }
}

/// `add element` / `delete element` commands for one set, in batches.
pub fn element_commands(
    verb: &str,
    set: &str,
    elements: &[(&Key, Option<&Data>)],
    out: &mut String,
) {
    for chunk in elements.chunks(512) {
        let _ = write!(out, "{verb} element {FAMILY} {TABLE} {set} {{ ");
        for (i, (key, data)) in chunk.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            // A delete names the key only.
            render_element(
                key,
                if verb == "delete" {
                    None
                } else {
                    data.map(Vec::as_slice)
                },
                out,
            );
        }
        out.push_str(" }\n");
    }
}

/// Everything, for a kernel without the table.
pub fn fresh(desired: &Desired) -> Plan {
    plan(desired, &KernelTable::default(), false)
}

/// The difference between `desired` and `kernel` (`table_exists`: whether the kernel has it).
pub fn plan(desired: &Desired, kernel: &KernelTable, table_exists: bool) -> Plan {
    let mut p = Plan::default();
    let mut head = String::new();
    let mut sets_part = String::new();
    let mut elems_part = String::new();
    let mut chains_part = String::new();
    let mut rules_part = String::new();
    if !table_exists {
        let _ = writeln!(head, "add table {FAMILY} {TABLE}");
        p.changes += 1;
        p.notes.push(format!("created table {FAMILY} {TABLE}"));
    }

    let bad_sets: Vec<&SetDecl> = SETS
        .iter()
        .filter(|d| !kernel.sets.get(d.name).is_some_and(|k| decl_matches(d, k)))
        .collect();
    let recreating = bad_sets.iter().any(|d| kernel.sets.contains_key(d.name));

    for chain in CHAINS {
        let current = kernel.chains.get(chain.name);
        let intact = current.is_some_and(|k| {
            hook_matches(chain, k)
                && k.rules
                    .iter()
                    .map(|c| c.as_deref())
                    .eq(layout::comments(chain).iter().map(|c| Some(c.as_str())))
        });
        if intact && !recreating {
            continue;
        }
        match current {
            Some(k) => {
                let _ = writeln!(head, "flush chain {FAMILY} {TABLE} {}", chain.name);
                if !hook_matches(chain, k) {
                    let _ = writeln!(head, "delete chain {FAMILY} {TABLE} {}", chain.name);
                    layout::add_chain(chain, &mut chains_part);
                }
                if !intact {
                    p.notes.push(format!("rebuilt chain {}", chain.name));
                }
            }
            None => {
                layout::add_chain(chain, &mut chains_part);
                p.notes.push(format!("created chain {}", chain.name));
            }
        }
        layout::add_rules(chain, &mut rules_part);
        p.changes += 1;
    }
    if !kernel.chains.contains_key(USER_CHAIN) {
        // Before the chains that jump to it.
        let _ = writeln!(head, "add chain {FAMILY} {TABLE} {USER_CHAIN}");
        p.changes += 1;
        p.notes.push(format!("created chain {USER_CHAIN}"));
    }

    let empty = BTreeMap::new();
    for decl in SETS {
        let want = desired.get(decl.name).unwrap_or(&empty);
        let existing = kernel.sets.get(decl.name);
        let fresh_set = bad_sets.iter().any(|d| d.name == decl.name);
        if fresh_set {
            if existing.is_some() {
                let _ = writeln!(
                    head,
                    "delete {} {FAMILY} {TABLE} {}",
                    if decl.data.is_some() { "map" } else { "set" },
                    decl.name
                );
                p.notes.push(format!("recreated {}", decl.name));
            }
            layout::add_set(decl, &mut sets_part);
            p.changes += 1;
            let adds: Vec<_> = want.iter().map(|(k, d)| (k, d.as_ref())).collect();
            element_commands("add", decl.name, &adds, &mut elems_part);
            p.changes += adds.len();
            continue;
        }
        let have = existing.and_then(|k| k.elements.as_ref()).unwrap_or(&empty);
        let deletes: Vec<_> = have
            .iter()
            .filter(|(k, d)| want.get(*k) != Some(d))
            .map(|(k, d)| (k, d.as_ref()))
            .collect();
        let adds: Vec<_> = want
            .iter()
            .filter(|(k, d)| have.get(*k) != Some(d))
            .map(|(k, d)| (k, d.as_ref()))
            .collect();
        if !deletes.is_empty() {
            element_commands("delete", decl.name, &deletes, &mut elems_part);
            p.notes.push(format!(
                "deleted {} stale element(s) of {}",
                deletes.len(),
                decl.name
            ));
        }
        if !adds.is_empty() {
            element_commands("add", decl.name, &adds, &mut elems_part);
            p.notes.push(format!(
                "added {} missing element(s) to {}",
                adds.len(),
                decl.name
            ));
        }
        p.changes += deletes.len() + adds.len();
    }
    if p.changes > 0 {
        // Deletions and flushes first; then sets before elements; chains before the rules.
        p.script = [head, sets_part, elems_part, chains_part, rules_part].concat();
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::elements::Part;

    fn desired_with(set: &'static str, key: Key) -> Desired {
        let mut d = Desired::new();
        d.entry(set).or_default().insert(key, None);
        d
    }

    #[test]
    fn a_missing_table_is_created_whole() {
        let d = desired_with("bridges", vec![Part::name("br-a")]);
        let p = fresh(&d);
        assert!(
            p.script
                .starts_with("add table inet cnm\nadd chain inet cnm user\n"),
            "{}",
            p.script
        );
        assert!(
            p.script
                .contains("add element inet cnm bridges { \"br-a\" }")
        );
        for chain in CHAINS {
            assert!(
                p.script
                    .contains(&format!("add chain inet cnm {}", chain.name))
            );
        }
        // Sets exist before the rules that name them.
        assert!(
            p.script.find("add set inet cnm bridges").unwrap() < p.script.find("add rule").unwrap()
        );
    }
}
