//! Network faults between node addresses with iptables, all in one chain of our own
//! (`CARTWHEEL-CHAOS`) jumped to from `INPUT`: on loopback every packet passes `INPUT` once, and
//! a rule `-s A -d B -j DROP` cuts exactly the traffic node A sends to node B (nodes connect from
//! their own address). Clients of the harness talk from 127.0.0.1 and are never cut.
//!
//! Rules must not outlive the run: normally the harness runs in a network namespace of its own
//! (see `main.rs`), which takes the rules with it when it goes; in any case the chain is flushed
//! on [`Netfilter::heal`], removed on drop, and a stale one from a crashed run is removed first.

use std::process::Command;

const CHAIN: &str = "CARTWHEEL-CHAOS";

/// The installed chain.
pub struct Netfilter {
    _private: (),
}

impl Netfilter {
    /// Removes a stale chain, creates ours and hooks it into `INPUT`.
    pub fn install() -> Result<Netfilter, String> {
        remove_chain();
        iptables(&["-N", CHAIN])?;
        iptables(&["-I", "INPUT", "-j", CHAIN])?;
        Ok(Netfilter { _private: () })
    }

    /// Drops packets from `from` to `to` (with `probability` < 1: that share of them, at random).
    pub fn drop_between(&mut self, from: &str, to: &str, probability: Option<f64>) -> Result<(), String> {
        let mut args = vec!["-A", CHAIN, "-s", from, "-d", to];
        let p;
        if let Some(prob) = probability {
            p = format!("{prob:.2}");
            args.extend(["-m", "statistic", "--mode", "random", "--probability", &p]);
        }
        args.extend(["-j", "DROP"]);
        iptables(&args)
    }

    /// Cuts every address of `a` from every address of `b`, both ways.
    pub fn split(&mut self, a: &[&str], b: &[&str]) -> Result<(), String> {
        for x in a {
            for y in b {
                self.drop_between(x, y, None)?;
                self.drop_between(y, x, None)?;
            }
        }
        Ok(())
    }

    /// Removes every rule: the network is whole again.
    pub fn heal(&mut self) -> Result<(), String> {
        iptables(&["-F", CHAIN])
    }
}

impl Drop for Netfilter {
    fn drop(&mut self) {
        remove_chain();
    }
}

fn remove_chain() {
    let _ = iptables(&["-F", CHAIN]);
    while iptables(&["-D", "INPUT", "-j", CHAIN]).is_ok() {}
    let _ = iptables(&["-X", CHAIN]);
}

fn iptables(args: &[&str]) -> Result<(), String> {
    let out = Command::new("iptables").arg("-w").args(args).output().map_err(|e| format!("iptables: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("iptables {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Whether iptables can be used here (installed, and we may change rules).
pub fn available() -> bool {
    Command::new("iptables").args(["-w", "-S", "INPUT"]).output().map(|o| o.status.success()).unwrap_or(false)
}
