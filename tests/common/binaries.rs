//! The paths of this package's binaries, which Cargo gives the tests and the
//! benchmark (benches/start.rs includes this file too).

/// The path of a binary of this package.
pub fn bin(name: &str) -> &'static str {
    match name {
        "01-uts" => env!("CARGO_BIN_EXE_01-uts"),
        "02-ipc" => env!("CARGO_BIN_EXE_02-ipc"),
        "03-pid" => env!("CARGO_BIN_EXE_03-pid"),
        "04-mnt" => env!("CARGO_BIN_EXE_04-mnt"),
        "05-user" => env!("CARGO_BIN_EXE_05-user"),
        "06-net" => env!("CARGO_BIN_EXE_06-net"),
        "07-cgroups" => env!("CARGO_BIN_EXE_07-cgroups"),
        "08-rootfs" => env!("CARGO_BIN_EXE_08-rootfs"),
        "nsbox" => env!("CARGO_BIN_EXE_nsbox"),
        "nsbox-probe" => env!("CARGO_BIN_EXE_nsbox-probe"),
        _ => panic!("no binary named {name}"),
    }
}
