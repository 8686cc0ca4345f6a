//! The UTS namespace: the hostname (and the NIS domain name) a process sees.

use super::Error;

// ANCHOR: hostname_limit
/// The kernel's limit on a hostname's length in bytes (`HOST_NAME_MAX` in
/// `<limits.h>`).
pub const HOST_NAME_MAX: usize = 64;

/// Refuses a hostname the kernel would refuse, before we create anything.
pub fn validate_hostname(name: &str) -> Result<(), Error> {
    if name.len() > HOST_NAME_MAX {
        // What is wrong, in the kernel's terms; the lesson adds which option to fix.
        return Err(Error::HostnameTooLong {
            name: name.to_string(),
            limit: HOST_NAME_MAX,
        });
    }
    Ok(())
}
// ANCHOR_END: hostname_limit

// ANCHOR: set_hostname
/// Runs in the child: changes the hostname of the UTS namespace it is in. Because
/// the child has a new UTS namespace, the host's hostname stays as it was.
pub fn set_hostname(name: &str) -> nix::Result<()> {
    // ANCHOR: exercise
    nix::unistd::sethostname(name)
    // ANCHOR_END: exercise
}
// ANCHOR_END: set_hostname
