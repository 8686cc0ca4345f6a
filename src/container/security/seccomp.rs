//! seccomp: a filter the kernel runs on every system call the container makes.
//!
//! The filter is a small program for the kernel's classic BPF machine: it reads
//! the call's number, its architecture and its arguments, and answers ALLOW, or
//! ERRNO(n) (the call fails with that error and never runs), or kills the caller.
//! Once installed it can never be removed, it is inherited by every child and
//! kept across `exec`, and a process can only add more filters (the kernel then
//! takes the strictest answer of all of them).
//!
//! We read profiles in docker's JSON format (`defaultAction`, `syscalls[]` with
//! `names`, `action`, `errnoRet`, `args`, `includes`/`excludes`), and our default
//! profile is one too ([`DEFAULT_PROFILE`]). A library, `seccompiler`
//! (Firecracker's), turns the rules into BPF instructions; `syscalls` gives the
//! numbers of the calls' names. Installing the program is a system call of ours.

use super::capabilities::{self, CapSet};
use nix::errno::Errno;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch, sock_filter,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// nsbox's default profile: docker's allow-list.
pub const DEFAULT_PROFILE: &str = include_str!("default-seccomp.json");

/// A seccomp profile, as docker writes it. (Fields we do not use, such as
/// `archMap` or `comment`, are read and ignored.)
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// What a call no rule names gets: `SCMP_ACT_ERRNO`, `SCMP_ACT_ALLOW`, …
    pub default_action: String,
    /// The error number `SCMP_ACT_ERRNO` returns (default: EPERM).
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub syscalls: Option<Vec<Rule>>,
}

/// One entry of `syscalls`: these calls, with these arguments, get this action.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default)]
    pub names: Option<Vec<String>>,
    /// Older profiles name one call per entry.
    #[serde(default)]
    pub name: Option<String>,
    pub action: String,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    /// All must hold (an AND).
    #[serde(default)]
    pub args: Option<Vec<Argument>>,
    /// The entry counts only if the container has all these (and runs here).
    #[serde(default)]
    pub includes: Option<Conditions>,
    /// The entry counts only if the container has none of these.
    #[serde(default)]
    pub excludes: Option<Conditions>,
}

/// A condition on one argument of the call.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Argument {
    pub index: u8,
    pub value: u64,
    /// For `SCMP_CMP_MASKED_EQ`: `(arg & value) == value_two`.
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conditions {
    #[serde(default)]
    pub caps: Option<Vec<String>>,
    #[serde(default)]
    pub arches: Option<Vec<String>>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// The compiled filter: one BPF program or more, each installed in turn.
///
/// Why more than one: `seccompiler` compiles a program with one answer for the
/// calls its rules match and one for all others, and a profile can have several
/// (ALLOW for most, ERRNO(ENOSYS) for `clone3`). The kernel runs every installed
/// program and keeps the strictest answer, so we install one program "the calls
/// the profile names: ALLOW; any other: the default", and one more per other
/// answer, "these calls: that answer; any other: ALLOW".
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Filter {
    programs: Vec<BpfProgram>,
}

impl Profile {
    /// Reads a profile in docker's JSON format.
    pub fn from_json(text: &str) -> Result<Profile, String> {
        serde_json::from_str(text)
            .map_err(|e| format!("not a seccomp profile in docker's format: {e}"))
    }

    /// nsbox's default profile.
    pub fn default_profile() -> Profile {
        Profile::from_json(DEFAULT_PROFILE).expect("the default profile is valid")
    }

    /// The filter for a container whose process has the capabilities `caps`
    /// (entries with `includes.caps` count only if it has them, as in docker).
    pub fn compile(&self, caps: CapSet) -> Result<Filter, String> {
        let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|_| {
            format!("seccomp: no filter for {}", std::env::consts::ARCH)
        })?;
        let default = action(&self.default_action, self.default_errno_ret)?;
        let mut by_action: Vec<(SeccompAction, Calls)> = Vec::new();
        for rule in self.syscalls.iter().flatten() {
            let answer = action(&rule.action, rule.errno_ret)?;
            let conditions = rule
                .args
                .iter()
                .flatten()
                .map(condition)
                .collect::<Result<Vec<_>, _>>()?;
            if !applies(rule, caps)? || answer == default {
                continue;
            }
            let calls = match by_action.iter_mut().find(|(a, _)| *a == answer) {
                Some((_, calls)) => calls,
                None => {
                    by_action.push((answer, Calls::new()));
                    &mut by_action.last_mut().expect("just pushed").1
                }
            };
            let names = rule.names.iter().flatten().chain(rule.name.as_ref());
            for name in names {
                // A name this architecture has no call of is left out, as
                // docker does (its profile names calls of every architecture).
                if let Ok(call) = name.parse::<syscalls::Sysno>() {
                    add(calls, call.id() as i64, &conditions)?;
                }
            }
        }
        let mut programs = Vec::new();
        if default != SeccompAction::Allow {
            let named = by_action
                .iter()
                .fold(Calls::new(), |all, (_, calls)| merge(all, calls));
            programs.push(program(named, default, SeccompAction::Allow, arch)?);
        }
        for (answer, calls) in by_action {
            if answer != SeccompAction::Allow {
                programs.push(program(calls, SeccompAction::Allow, answer, arch)?);
            }
        }
        Ok(Filter { programs })
    }
}

/// For each call number: `None`, whatever its arguments; or these alternatives
/// (an OR of rules, each an AND of conditions).
type Calls = BTreeMap<i64, Option<Vec<SeccompRule>>>;

fn add(
    calls: &mut Calls,
    number: i64,
    conditions: &[SeccompCondition],
) -> Result<(), String> {
    let entry = calls.entry(number).or_insert_with(|| Some(Vec::new()));
    if conditions.is_empty() {
        *entry = None;
    } else if let Some(rules) = entry {
        let rule =
            SeccompRule::new(conditions.to_vec()).map_err(|e| e.to_string())?;
        rules.push(rule);
    }
    Ok(())
}

fn merge(mut all: Calls, more: &Calls) -> Calls {
    for (number, rules) in more {
        let entry = all.entry(*number).or_insert_with(|| Some(Vec::new()));
        match (entry.as_mut(), rules) {
            (Some(mine), Some(theirs)) => mine.extend(theirs.iter().cloned()),
            _ => *entry = None,
        }
    }
    all
}

fn program(
    calls: Calls,
    mismatch: SeccompAction,
    matched: SeccompAction,
    arch: TargetArch,
) -> Result<BpfProgram, String> {
    let rules = calls
        .into_iter()
        .map(|(number, rules)| (number, rules.unwrap_or_default()))
        .collect();
    let filter = SeccompFilter::new(rules, mismatch, matched, arch)
        .map_err(|e| format!("seccomp: {e}"))?;
    BpfProgram::try_from(filter).map_err(|e| format!("seccomp: {e}"))
}

/// docker's action names.
fn action(name: &str, errno: Option<u32>) -> Result<SeccompAction, String> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => SeccompAction::Allow,
        "SCMP_ACT_ERRNO" => {
            SeccompAction::Errno(errno.unwrap_or(Errno::EPERM as u32))
        }
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => SeccompAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => SeccompAction::KillProcess,
        "SCMP_ACT_TRAP" => SeccompAction::Trap,
        "SCMP_ACT_LOG" => SeccompAction::Log,
        "SCMP_ACT_TRACE" => {
            SeccompAction::Trace(errno.unwrap_or(Errno::EPERM as u32))
        }
        other => {
            return Err(format!(
                "unknown action '{other}' (known: SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, \
                 SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_LOG, \
                 SCMP_ACT_TRACE)"
            ));
        }
    })
}

/// docker's comparisons. All compare the whole 64-bit argument, as libseccomp
/// does.
fn condition(arg: &Argument) -> Result<SeccompCondition, String> {
    let (op, value) = match arg.op.as_str() {
        "SCMP_CMP_NE" => (SeccompCmpOp::Ne, arg.value),
        "SCMP_CMP_LT" => (SeccompCmpOp::Lt, arg.value),
        "SCMP_CMP_LE" => (SeccompCmpOp::Le, arg.value),
        "SCMP_CMP_EQ" => (SeccompCmpOp::Eq, arg.value),
        "SCMP_CMP_GE" => (SeccompCmpOp::Ge, arg.value),
        "SCMP_CMP_GT" => (SeccompCmpOp::Gt, arg.value),
        "SCMP_CMP_MASKED_EQ" => (SeccompCmpOp::MaskedEq(arg.value), arg.value_two),
        other => {
            return Err(format!(
                "unknown comparison '{other}' (known: SCMP_CMP_NE, _LT, _LE, _EQ, \
                 _GE, _GT, _MASKED_EQ)"
            ));
        }
    };
    SeccompCondition::new(arg.index, SeccompCmpArgLen::Qword, op, value)
        .map_err(|e| format!("argument {}: {e}", arg.index))
}

/// Does this entry count for a container with `caps`, on this machine?
fn applies(rule: &Rule, caps: CapSet) -> Result<bool, String> {
    let has = |name: &String| -> Result<bool, String> {
        let number = capabilities::number(name)
            .map_err(|_| format!("'{name}' is not a capability's name"))?;
        Ok(caps.contains(number))
    };
    if let Some(includes) = &rule.includes {
        for cap in includes.caps.iter().flatten() {
            if !has(cap)? {
                return Ok(false);
            }
        }
        if let Some(arches) = &includes.arches
            && !arches.is_empty()
            && !arches.iter().any(|a| is_this_arch(a))
        {
            return Ok(false);
        }
        if let Some(min) = &includes.min_kernel
            && kernel_older_than(min)
        {
            return Ok(false);
        }
    }
    if let Some(excludes) = &rule.excludes {
        for cap in excludes.caps.iter().flatten() {
            if has(cap)? {
                return Ok(false);
            }
        }
        if excludes.arches.iter().flatten().any(|a| is_this_arch(a)) {
            return Ok(false);
        }
        if let Some(min) = &excludes.min_kernel
            && !kernel_older_than(min)
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// docker's names for architectures (Go's), and the kernel's.
fn is_this_arch(name: &str) -> bool {
    let ours: &[&str] = match std::env::consts::ARCH {
        "x86_64" => &["amd64", "x86_64", "SCMP_ARCH_X86_64"],
        "aarch64" => &["arm64", "aarch64", "SCMP_ARCH_AARCH64"],
        "riscv64" => &["riscv64", "SCMP_ARCH_RISCV64"],
        _ => &[],
    };
    ours.contains(&name)
}

/// Is the running kernel older than `version` (`4.8`)?
fn kernel_older_than(version: &str) -> bool {
    let numbers = |text: &str| -> Vec<u32> {
        text.split(['.', '-'])
            .take(2)
            .map(|n| n.parse().unwrap_or(0))
            .collect()
    };
    let release =
        std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    numbers(release.trim()) < numbers(version)
}

impl Filter {
    /// How many BPF instructions, all programs together.
    pub fn instructions(&self) -> usize {
        self.programs.iter().map(Vec::len).sum()
    }

    /// How many programs.
    pub fn programs(&self) -> usize {
        self.programs.len()
    }
}

/// `Filter(2 programs, 300 instructions)`: the instructions themselves say little.
impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "Filter({} programs, {} instructions)",
            self.programs(),
            self.instructions()
        )
    }
}

/// For the state record (so `exec` installs the very same filter): each program
/// as hex, 16 digits an instruction (code, jt, jf, k).
impl From<Filter> for Vec<String> {
    fn from(filter: Filter) -> Vec<String> {
        filter
            .programs
            .iter()
            .map(|program| {
                program
                    .iter()
                    .map(|i| {
                        format!("{:04x}{:02x}{:02x}{:08x}", i.code, i.jt, i.jf, i.k)
                    })
                    .collect()
            })
            .collect()
    }
}

impl TryFrom<Vec<String>> for Filter {
    type Error = String;

    fn try_from(texts: Vec<String>) -> Result<Filter, String> {
        let instruction = |hex: &str| -> Option<sock_filter> {
            let bits = u64::from_str_radix(hex, 16).ok()?;
            Some(sock_filter {
                code: (bits >> 48) as u16,
                jt: (bits >> 40) as u8,
                jf: (bits >> 32) as u8,
                k: bits as u32,
            })
        };
        let program = |text: &String| -> Option<BpfProgram> {
            if !text.len().is_multiple_of(16) || !text.is_ascii() {
                return None;
            }
            (0..text.len())
                .step_by(16)
                .map(|at| instruction(&text[at..at + 16]))
                .collect()
        };
        let programs = texts.iter().map(program).collect::<Option<Vec<_>>>();
        programs
            .map(|programs| Filter { programs })
            .ok_or_else(|| "not a seccomp filter".to_string())
    }
}

// ANCHOR: install
/// `seccomp(SECCOMP_SET_MODE_FILTER, 0, program)` for each program.
///
/// The kernel accepts a filter only from a process that has `no_new_privs` set or
/// `CAP_SYS_ADMIN` (else a filter could fool a setuid program it then runs, say by
/// making its `setuid(2)` fail quietly). See where [`super`] puts this step.
pub fn install(filter: &Filter) -> Result<(), Errno> {
    for program in &filter.programs {
        let fprog = nix::libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_ptr() as *mut nix::libc::sock_filter,
        };
        // SAFETY: seccompiler's `sock_filter` is `repr(C)` with the kernel's
        // fields (u16, u8, u8, u32), and the program outlives the call; the
        // kernel copies it.
        let result = unsafe {
            nix::libc::syscall(
                nix::libc::SYS_seccomp,
                nix::libc::SECCOMP_SET_MODE_FILTER,
                0,
                &fprog,
            )
        };
        Errno::result(result)?;
    }
    Ok(())
}
// ANCHOR_END: install

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_profile_compiles_for_dockers_default_caps() {
        let filter = Profile::default_profile()
            .compile(CapSet::docker_default())
            .unwrap();
        // One program for the allow-list, one for clone3's ENOSYS.
        assert_eq!(filter.programs(), 2, "{filter:?}");
        // The kernel takes at most 4096 instructions a program (BPF_MAXINSNS).
        let sizes: Vec<usize> = filter.programs.iter().map(Vec::len).collect();
        assert!(sizes.iter().all(|&size| size <= 4096), "{sizes:?}");

        let with_admin = Profile::default_profile().compile(CapSet::all()).unwrap();
        assert_eq!(with_admin.programs(), 1, "{with_admin:?}");
    }

    #[test]
    fn a_filter_survives_the_state_record() {
        let filter = Profile::default_profile()
            .compile(CapSet::docker_default())
            .unwrap();
        let text = Vec::<String>::from(filter.clone());
        assert_eq!(Filter::try_from(text), Ok(filter));
    }

    #[test]
    fn bad_profiles_say_why() {
        let error = Profile::from_json("{\"defaultAction\": 3}").unwrap_err();
        assert!(error.contains("docker's format"), "{error}");
        let profile = Profile::from_json(
            r#"{"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOPE"}]}"#,
        )
        .unwrap();
        let error = profile.compile(CapSet(0)).unwrap_err();
        assert!(error.contains("SCMP_ACT_NOPE"), "{error}");
    }
}
