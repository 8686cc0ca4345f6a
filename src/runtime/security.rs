//! `nsbox run`'s security options, as docker and podman spell them: `--privileged`,
//! `--cap-add`, `--cap-drop`, `--security-opt KEY[=VALUE]` and `--userns`. This
//! file only reads them; the library's `security` module makes them real.

use crate::container::security::{CapSet, Profile, Security, capabilities};
use std::path::PathBuf;

/// The seccomp filter the command runs under.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SeccompChoice {
    /// The default profile: an allow-list like docker's.
    #[default]
    Default,
    /// No filter at all (`--security-opt seccomp=unconfined`).
    Unconfined,
    /// A profile in docker's JSON format (`--security-opt seccomp=PROFILE.json`).
    Profile(PathBuf),
}

/// Whose ids the container's root has on the host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum UsernsChoice {
    /// No user namespace: root inside is root here (docker's default).
    #[default]
    Host,
    /// A user namespace whose ids are a range of /etc/subuid's and /etc/subgid's
    /// nobody else uses (`--userns=auto`).
    Auto,
}

/// What the security options ask for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityOptions {
    /// `--privileged`: every capability, no seccomp filter, no masked paths.
    pub privileged: bool,
    /// `--cap-add NAME`: upper case, without `CAP_` (`ALL` for every one).
    pub cap_add: Vec<String>,
    /// `--cap-drop NAME`: the same.
    pub cap_drop: Vec<String>,
    /// `--security-opt no-new-privileges`.
    pub no_new_privileges: bool,
    /// `--security-opt seccomp=…`.
    pub seccomp: SeccompChoice,
    /// `--security-opt systempaths=unconfined`: /proc and /sys as the kernel shows
    /// them, nothing masked or read-only.
    pub unmask_system_paths: bool,
    /// `--userns=…`.
    pub userns: UsernsChoice,
}

impl SecurityOptions {
    /// Reads the options; an error says which one is wrong and what is accepted.
    pub fn parse(
        privileged: bool,
        cap_add: &[String],
        cap_drop: &[String],
        security_opts: &[String],
        userns: Option<&str>,
    ) -> Result<SecurityOptions, String> {
        let mut options = SecurityOptions {
            privileged,
            cap_add: capability_names(cap_add)?,
            cap_drop: capability_names(cap_drop)?,
            ..SecurityOptions::default()
        };
        for opt in security_opts {
            options.apply(opt)?;
        }
        options.userns = match userns {
            None | Some("") | Some("host") => UsernsChoice::Host,
            Some("auto") => UsernsChoice::Auto,
            Some(other) => {
                return Err(format!(
                    "--userns={other}: nsbox knows 'auto' (a range of /etc/subuid) \
                     and 'host' (no user namespace)"
                ));
            }
        };
        Ok(options)
    }

    /// One `--security-opt`.
    fn apply(&mut self, opt: &str) -> Result<(), String> {
        // docker accepts both KEY=VALUE and the older KEY:VALUE.
        let (key, value) = match opt.split_once(['=', ':']) {
            Some((key, value)) => (key, Some(value)),
            None => (opt, None),
        };
        match (key, value) {
            ("no-new-privileges", None | Some("true")) => {
                self.no_new_privileges = true
            }
            ("no-new-privileges", Some("false")) => self.no_new_privileges = false,
            ("seccomp", Some("unconfined")) => {
                self.seccomp = SeccompChoice::Unconfined
            }
            ("seccomp", Some(path)) if !path.is_empty() => {
                self.seccomp = SeccompChoice::Profile(PathBuf::from(path))
            }
            ("systempaths", Some("unconfined")) => self.unmask_system_paths = true,
            _ => {
                return Err(format!(
                    "--security-opt {opt}: nsbox knows no-new-privileges, \
                     seccomp=unconfined, seccomp=PROFILE.json and \
                     systempaths=unconfined"
                ));
            }
        }
        Ok(())
    }
}

// ANCHOR: defences
impl SecurityOptions {
    /// The defences the library puts up for these options: docker's default
    /// capabilities and seccomp profile, changed as asked; none of either with
    /// `--privileged`. An error names the option and what to do.
    pub fn defences(&self) -> Result<Security, String> {
        let no_new_privileges = self.no_new_privileges;
        if self.privileged {
            return Ok(Security {
                no_new_privileges,
                ..Security::default()
            });
        }
        let capabilities = self.capabilities()?;
        let seccomp = match &self.seccomp {
            SeccompChoice::Unconfined => None,
            SeccompChoice::Default => Some(Profile::default_profile()),
            SeccompChoice::Profile(path) => Some(read_profile(path)?),
        };
        let seccomp = match seccomp {
            Some(profile) => Some(
                profile
                    .compile(capabilities)
                    .map_err(|e| format!("--security-opt seccomp: {e}"))?,
            ),
            None => None,
        };
        Ok(Security {
            capabilities: Some(capabilities),
            no_new_privileges,
            seccomp,
        })
    }

    /// docker's default set, with `--cap-add`'s, without `--cap-drop`'s. `ALL`:
    /// `--cap-add ALL` starts from every capability, `--cap-drop ALL` from none
    /// (so `--cap-drop ALL --cap-add NET_RAW` leaves only NET_RAW).
    fn capabilities(&self) -> Result<CapSet, String> {
        let add = named("--cap-add", &self.cap_add)?;
        let drop = named("--cap-drop", &self.cap_drop)?;
        let all = |names: &[String]| names.iter().any(|name| name == "ALL");
        let base = match (all(&self.cap_add), all(&self.cap_drop)) {
            (true, _) => CapSet::all(),
            (false, true) => CapSet(0),
            (false, false) => CapSet::docker_default(),
        };
        Ok(base.with(add).without(drop))
    }
}

/// The capabilities named (`ALL` aside); an unknown name is an error that lists
/// the known ones.
fn named(flag: &str, names: &[String]) -> Result<CapSet, String> {
    let named = names.iter().filter(|name| *name != "ALL");
    CapSet::from_names(named).map_err(|unknown| {
        format!(
            "{flag} {}: no such capability (known: {}, or ALL)",
            unknown.0,
            capabilities::NAMES.join(", ")
        )
    })
}

/// `--security-opt seccomp=PATH`: the file, in docker's format.
fn read_profile(path: &std::path::Path) -> Result<Profile, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!("--security-opt seccomp={shown}: cannot read it: {e}")
    })?;
    Profile::from_json(&text).map_err(|e| {
        format!(
            "--security-opt seccomp={shown}: {e} (see docker's \
             profiles/seccomp/default.json for the format)"
        )
    })
}
// ANCHOR_END: defences

/// `net_admin`, `CAP_NET_ADMIN` and `NET_ADMIN` all name the same capability, as
/// in docker: the names upper case, without `CAP_`.
fn capability_names(names: &[String]) -> Result<Vec<String>, String> {
    names
        .iter()
        .map(|name| {
            let upper = name.trim().to_ascii_uppercase();
            let bare = upper.strip_prefix("CAP_").unwrap_or(&upper).to_string();
            let valid = !bare.is_empty()
                && bare.chars().all(|c| c.is_ascii_uppercase() || c == '_');
            if valid {
                Ok(bare)
            } else {
                Err(format!(
                    "'{name}' is not a capability's name (e.g. NET_ADMIN)"
                ))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(opts: &[&str]) -> Result<SecurityOptions, String> {
        let opts: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
        SecurityOptions::parse(false, &[], &[], &opts, None)
    }

    #[test]
    fn security_opts_read_as_docker_writes_them() {
        assert!(parse(&["no-new-privileges"]).unwrap().no_new_privileges);
        assert!(
            parse(&["no-new-privileges:true"])
                .unwrap()
                .no_new_privileges
        );
        assert_eq!(
            parse(&["seccomp=unconfined"]).unwrap().seccomp,
            SeccompChoice::Unconfined
        );
        assert_eq!(
            parse(&["seccomp=/p.json"]).unwrap().seccomp,
            SeccompChoice::Profile("/p.json".into())
        );
        assert!(
            parse(&["systempaths=unconfined"])
                .unwrap()
                .unmask_system_paths
        );
        assert!(parse(&["apparmor=unconfined"]).is_err());
        assert!(parse(&["seccomp="]).is_err());
    }

    #[test]
    fn capability_names_are_normalised() {
        let names = ["net_admin".to_string(), "CAP_SYS_TIME".to_string()];
        let options = SecurityOptions::parse(false, &names, &[], &[], None).unwrap();
        assert_eq!(options.cap_add, ["NET_ADMIN", "SYS_TIME"]);
        let bad = ["NET-ADMIN".to_string()];
        assert!(SecurityOptions::parse(false, &bad, &[], &[], None).is_err());
    }

    #[test]
    fn capabilities_are_dockers_default_changed_as_asked() {
        let caps = |add: &[&str], drop: &[&str]| {
            let add: Vec<String> = add.iter().map(|s| s.to_string()).collect();
            let drop: Vec<String> = drop.iter().map(|s| s.to_string()).collect();
            let options = SecurityOptions::parse(false, &add, &drop, &[], None)?;
            Ok::<_, String>(options.defences()?.capabilities.unwrap().0)
        };
        assert_eq!(caps(&[], &[]), Ok(0xa80425fb));
        assert_eq!(
            caps(&["SYS_TIME"], &["NET_RAW"]),
            Ok((0xa80425fb | 1 << 25) & !(1 << 13))
        );
        assert_eq!(caps(&["NET_RAW"], &["ALL"]), Ok(1 << 13));
        assert_eq!(
            caps(&["ALL"], &["SYS_ADMIN"]),
            Ok(0x1ff_ffff_ffff & !(1 << 21))
        );
        let unknown = caps(&["WIZARDRY"], &[]).unwrap_err();
        assert!(unknown.contains("--cap-add WIZARDRY: no such"), "{unknown}");
    }

    #[test]
    fn userns_is_auto_or_host() {
        let auto = SecurityOptions::parse(false, &[], &[], &[], Some("auto"));
        assert_eq!(auto.unwrap().userns, UsernsChoice::Auto);
        assert!(
            SecurityOptions::parse(false, &[], &[], &[], Some("keep-id")).is_err()
        );
    }
}
